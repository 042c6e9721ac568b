"""The `dask` engine: bulk scoring and training on an existing Dask cluster.

Bulk scoring is partitioned by lead id: the leads to score are cut into chunks of consecutive ids,
each chunk is one task. A worker reads its leads and their activities straight from the database
(PostgreSQL: every worker needs network access to it; a SQLite file only works when workers share
the machine), computes the features, runs the predictor and the explanations, and returns the
scored rows. This process writes the chunks back in id order, each with the job's checkpoint, so
results, resumption and cancellation are exactly those of the local engine.

Training runs as one task on a worker (features, fit, evaluation and promotion, reading from and
writing to the database): it moves the work off the API or CLI machine. One worker must hold the
training set in memory; at 100,000 leads that is well under 1 GiB.

Dask and distributed are imported only here, so the local engine does not need them.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import polars as pl
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from leadml import db
from leadml.scoring import bulk

_ENGINES: dict[str, Engine] = {}  # one engine per database URL per worker process


def _worker_engine(url: str) -> Engine:
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = db.make_engine(url)
    return engine


def score_part(url: str, plan: bulk.BulkPlan, lead_ids: list[int], explain_reasons: bool) -> bytes:
    """On a worker: features, predictions and reasons for these leads, as Arrow IPC bytes."""
    engine = _worker_engine(url)
    part = replace(plan, to_score=lead_ids)
    frames = [bulk.score_chunk(features, part, explain_reasons=explain_reasons)
              for features in bulk.feature_chunks(engine, part, chunk_leads=max(len(lead_ids), 1), by_id=True)]
    frame = pl.concat(frames) if frames else pl.DataFrame()
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    return buffer.getvalue()


def run(engine: Engine, sessions: sessionmaker[Session], plan: bulk.BulkPlan, *, request: bulk.BulkRequest,
        scheduler: str, checkpoint: bulk.Checkpoint | None = None,
        progress: Callable[[bulk.BulkSummary], None] | None = None) -> bulk.BulkSummary:
    from distributed import Client

    started = time.perf_counter()
    summary = bulk.BulkSummary(total=len(plan.to_score) + len(plan.fresh), reused=len(plan.fresh),
                               processed=len(plan.fresh), successful=len(plan.fresh), source=plan.predictor.source,
                               model_version=plan.predictor.model_version)
    url = engine.url.render_as_string(hide_password=False)
    shared = replace(plan, to_score=[], fresh=[], chosen=[])
    parts = [plan.to_score[i:i + request.chunk_leads] for i in range(0, len(plan.to_score), request.chunk_leads)]
    with Client(scheduler) as client:
        shared_future = client.scatter(shared, broadcast=True)
        futures = [client.submit(score_part, url, shared_future, part, request.explain, pure=False) for part in parts]
        for future in futures:  # in id order, so the checkpoint always marks a complete prefix
            scored = pl.read_ipc(future.result())
            future.release()
            if scored.height == 0:
                continue
            lead_ids = scored.get_column("lead_id").to_list()
            with db.transaction(sessions) as session:
                written = bulk.prediction_store.write_bulk(
                    session, lead_ids=lead_ids, make_rows=lambda ids, s=scored: bulk._rows(s, ids, plan))
                summary.processed += written
                summary.successful += written
                summary.seconds = time.perf_counter() - started
                if checkpoint:
                    checkpoint(session, lead_ids[-1], summary)
            if progress:
                progress(summary)
    summary.seconds = time.perf_counter() - started
    return summary


def _train_on_worker(url: str, config_id: int, options: Any) -> dict[str, Any]:
    from leadml.scoring.training import train_config

    engine = _worker_engine(url)
    return train_config(engine, db.make_session_factory(engine), config_id=config_id, options=options)


def train(engine: Engine, *, config_id: int, options: Any, scheduler: str) -> dict[str, Any]:
    """Train (and promote when better) on a worker of the cluster; returns train_config's summary."""
    from distributed import Client

    with Client(scheduler) as client:
        url = engine.url.render_as_string(hide_password=False)
        return client.submit(_train_on_worker, url, config_id, options, pure=False).result()
