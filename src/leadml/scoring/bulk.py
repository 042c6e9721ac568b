"""Bulk scoring: one pipeline for one lead or a million.

    select leads -> features for all of them in one pass (chunks by lead id) -> predictor per chunk
    (model or rules, vectorized) -> top reasons -> priority -> one bulk write per chunk

Every chunk is written in one transaction (old ACTIVE predictions expired, new rows inserted), with
the caller's checkpoint in the same transaction, so a crash leaves whole chunks only and a resumed
job continues after the last written lead. Memory is bounded by about two chunks of features.

What a bulk row stores: probability, confidence, level, days to close with its interval, score and
breakdown, priority score and tier, and the 3 strongest reasons each way (`topPositiveReasons`,
`topNegativeReasons`, and a one-paragraph explanation built from them). Risk factors,
recommendations and what-if opportunities are the one-lead narrative: the document says
`"detail": "summary"`, and predicting that lead on its own computes and stores the full document.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from leadml import db, errors
from leadml.features.catalogue import FEATURES
from leadml.predict import batch as batch_predict
from leadml.predict import explain, ranking
from leadml.predict.confidence import CONFIDENCE_MEANING
from leadml.predict.result import PredictionResult, Thresholds
from leadml.scoring import feature_stream, llm, predictors
from leadml.storage import configs
from leadml.storage import leads as lead_store
from leadml.storage import predictions as prediction_store
from leadml.storage.tables import ScoringConfig
from leadml.storage.types import to_millis

log = logging.getLogger(__name__)

CHUNK_LEADS = 100_000
TOP_REASONS = 3
# Below this share of the config's leads, features are read for the chosen leads by id; above it,
# one sequential pass over the whole config is cheaper.
BY_ID_SHARE = 0.2
CATEGORY_OF = {spec.name: spec.category for spec in FEATURES}


@dataclass
class BulkRequest:
    """What to score. `limit` None means every active, open lead of the config."""

    limit: int | None = 50
    min_score: float = 0.0
    force_refresh: bool = False
    rule_based_only: bool = False
    explain: bool = True
    chunk_leads: int = CHUNK_LEADS


@dataclass
class BulkPlan:
    config_id: int
    tenant_id: int
    thresholds: Thresholds
    bands: tuple[float, float, float]
    timezone: str
    validity: timedelta
    custom_attributes: list[str] | None
    predictor: Any
    to_score: list[int]  # lead ids, ascending
    fresh: list[int]  # chosen leads whose stored prediction is still valid (reused)
    chosen: list[int]  # every chosen lead, in the request's order (best score first)
    total_leads: int  # leads of the config (any state), to decide how to read features
    rule_based_only: bool = False
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class BulkSummary:
    processed: int = 0
    successful: int = 0
    failed: int = 0
    reused: int = 0
    total: int = 0
    seconds: float = 0.0
    source: str = "rules"
    model_version: int | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Seconds per stage: waiting for features, predicting, explaining (inside predicting), writing.
    timings: dict[str, float] = field(default_factory=lambda: {"features": 0.0, "predict": 0.0, "explain": 0.0,
                                                               "write": 0.0})

    def as_dict(self) -> dict[str, Any]:
        rate = self.processed / self.seconds if self.seconds > 0 else None
        return {"processed": self.processed, "successful": self.successful, "failed": self.failed,
                "reused": self.reused, "total": self.total, "seconds": round(self.seconds, 3),
                "leadsPerSecond": round(rate, 1) if rate else None, "source": self.source,
                "modelVersion": self.model_version, "errors": self.errors[:20],
                "stageSeconds": {k: round(v, 2) for k, v in self.timings.items()}}


# --- planning ---------------------------------------------------------------------------------------


def plan(session: Session, *, config: ScoringConfig, request: BulkRequest, now: datetime | None = None,
         model_loader=None, resume_after: int | None = None) -> BulkPlan:
    """Choose the predictor and the leads: active, open leads with a score of at least minScore,
    best first (limit), skipping those whose stored prediction is still valid unless forceRefresh."""
    if request.limit is not None and request.limit < 1:
        raise errors.InvalidInput("limit must be at least 1", details={"limit": request.limit})
    now = now or datetime.now(UTC)
    predictor = predictors.choose(session, config=config, rule_based_only=request.rule_based_only,
                                  model_loader=model_loader)
    candidates = prediction_store.bulk_candidates(
        session, config_id=config.id, now=now, source=predictor.source, model_version_id=predictor.model_version_id,
        rule_based_only=request.rule_based_only, min_score=request.min_score, limit=request.limit,
    )
    if resume_after is not None:
        candidates = [(lead_id, fresh) for lead_id, fresh in candidates if lead_id > resume_after]
    chosen = [lead_id for lead_id, _ in candidates]
    fresh = [] if request.force_refresh else [lead_id for lead_id, is_fresh in candidates if is_fresh]
    fresh_set = set(fresh)
    to_score = sorted(lead_id for lead_id in chosen if lead_id not in fresh_set)
    total_leads = lead_store.count_leads(session, config_id=config.id)
    return BulkPlan(
        config_id=config.id, tenant_id=config.tenant_id, thresholds=predictors.thresholds_of(config),
        bands=configs.priority_bands(config), timezone=config.timezone,
        validity=timedelta(days=config.prediction_validity_days),
        custom_attributes=list(config.feature_attributes) or None, predictor=predictor,
        to_score=to_score, fresh=fresh, chosen=chosen, total_leads=total_leads, now=now,
        rule_based_only=request.rule_based_only,
    )


# --- features ---------------------------------------------------------------------------------------


def _model_attributes(plan_: BulkPlan) -> tuple[list[str] | None, dict[str, Any] | None]:
    bundle = getattr(plan_.predictor, "bundle", None)
    if bundle is None:
        return plan_.custom_attributes, None
    kinds = dict(bundle.attribute_kinds) or None
    names = bundle.custom_attributes if bundle.custom_attributes is not None else plan_.custom_attributes
    return names, kinds


def feature_chunks(source: Engine | Session, plan_: BulkPlan, *, chunk_leads: int,
                   by_id: bool | None = None) -> Iterator[pl.DataFrame]:
    """Feature frames of `plan_.to_score`, in lead id order, one per chunk. `by_id`: read the chosen
    leads by id (default when they are few, or inside a session) rather than pass over the config."""
    if not plan_.to_score:
        return
    names, kinds = _model_attributes(plan_)
    if by_id is None:
        by_id = isinstance(source, Session) or len(plan_.to_score) < BY_ID_SHARE * max(plan_.total_leads, 1)
    if by_id:
        if isinstance(source, Engine) and source.dialect.name == "sqlite":
            # Through this process's own SQLite driver (the fast reader's library must stay out of it).
            with source.connect() as connection:
                yield from feature_stream.for_leads(connection, config_id=plan_.config_id, lead_ids=plan_.to_score,
                                                    as_of=plan_.now, timezone=plan_.timezone,
                                                    custom_attributes=names, attribute_kinds=kinds,
                                                    chunk_leads=chunk_leads)
            return
        yield from feature_stream.for_leads(source, config_id=plan_.config_id, lead_ids=plan_.to_score,
                                            as_of=plan_.now, timezone=plan_.timezone, custom_attributes=names,
                                            attribute_kinds=kinds, chunk_leads=chunk_leads)
        return
    wanted = pl.Series("lead_id", plan_.to_score, dtype=pl.Int64)
    for frame in feature_stream.for_config(source, config_id=plan_.config_id, as_of=plan_.now,
                                          timezone=plan_.timezone, custom_attributes=names, attribute_kinds=kinds,
                                          chunk_leads=chunk_leads):
        chunk = frame.filter(pl.col("lead_id").is_in(wanted.implode()))
        if chunk.height:
            yield chunk


# --- predicting and explaining -------------------------------------------------------------------


def _words(feature: str) -> str:
    if feature.startswith("custom."):
        return feature[len("custom."):]
    if feature == batch_predict.ACTIVITY_REASON:
        return "inbound activity"
    return re.sub(r"(?<!^)(?=[A-Z])", " ", feature.split("#")[0]).lower()


def _reasons(index: np.ndarray, value: np.ndarray, names: Sequence[str], categories: dict[str, str],
             positive: bool) -> tuple[pl.Series, pl.Series]:
    """(JSON array of {feature, category, contribution, text}, the texts joined by ", ") per lead,
    from top_k's index/value arrays. Built as strings: polars list-of-struct columns are slow here."""
    verb = "raises" if positive else "lowers"
    texts = np.array([f"{_words(n)} ({verb} the chance)" for n in names] + [None], dtype=object)
    heads = np.array(
        [f'{{"feature":{json.dumps(n)},"category":'
         f'{json.dumps(c if (c := categories.get(n, "custom")) in explain.CATEGORIES else "custom")},"contribution":'
         for n in names] + [None], dtype=object)
    tails = np.array([f',"text":{json.dumps(t)}}}' for t in texts[:-1]] + [None], dtype=object)
    objects, plain = [], []
    for k in range(index.shape[1]):
        slot = np.where(index[:, k] >= 0, index[:, k], len(names))
        # Gather from small lookup Series (one value per feature, null for "no reason").
        gather = pl.Series(slot, dtype=pl.UInt32)
        frame = pl.DataFrame({
            "head": pl.Series(heads.tolist(), dtype=pl.String).gather(gather),
            "value": np.round(value[:, k], 4),
            "tail": pl.Series(tails.tolist(), dtype=pl.String).gather(gather),
            "text": pl.Series(texts.tolist(), dtype=pl.String).gather(gather),
        })
        objects.append(frame.select(pl.concat_str("head", pl.col("value").cast(pl.String), "tail")).to_series())
        plain.append(frame.get_column("text"))
    if not objects:
        return pl.repeat("[]", len(index), eager=True), pl.Series([None] * len(index), dtype=pl.String)
    frame = pl.DataFrame({f"o{k}": o for k, o in enumerate(objects)} | {f"t{k}": t for k, t in enumerate(plain)})
    arrays = frame.select(pl.concat_str([pl.lit("["), pl.concat_str(pl.col("^o.*$"), separator=",", ignore_nulls=True),
                                         pl.lit("]")])).to_series()
    joined = frame.select(pl.concat_str(pl.col("^t.*$"), separator=", ", ignore_nulls=True)).to_series()
    return arrays, joined.replace("", None)


def score_chunk(features: pl.DataFrame, plan_: BulkPlan, *, explain_reasons: bool = True,
                timings: dict[str, float] | None = None) -> pl.DataFrame:
    """One chunk of feature rows -> one row per lead with every stored field (payload as JSON text)."""
    predictor = plan_.predictor
    bundle = getattr(predictor, "bundle", None)
    if bundle is not None:
        result = batch_predict.model_batch(bundle, features, thresholds=plan_.thresholds,
                                           explain_reasons=explain_reasons)
    else:
        result = batch_predict.rules_batch(features, thresholds=plan_.thresholds)
    if timings is not None:
        timings["explain"] = timings.get("explain", 0.0) + result.explain_seconds
    table = result.table.with_columns(features.get_column("recencyScore").alias("_recency"))
    table = table.with_columns(
        priority_score=ranking.priority_score_expr("probability", "_recency", "predicted_days"),
    ).with_columns(priority_tier=ranking.priority_tier_expr("priority_score", plan_.bands))
    if explain_reasons and result.contributions.shape[1]:
        pos_i, pos_v, neg_i, neg_v = explain.top_k(result.contributions, TOP_REASONS)
    else:
        empty = np.full((table.height, 0), -1)
        pos_i, pos_v, neg_i, neg_v = empty, empty.astype(float), empty, empty.astype(float)
    positive, positive_text = _reasons(pos_i, pos_v, result.features, result.categories, True)
    negative, negative_text = _reasons(neg_i, neg_v, result.features, result.categories, False)
    names = pl.Series(list(result.features))
    top_names = [pl.lit(pl.Series(pos_i[:, k])).replace_strict(dict(enumerate(names.to_list())), default=None,
                                                                 return_dtype=pl.String)
                 for k in range(pos_i.shape[1])]
    valid_until = plan_.now + plan_.validity
    pct = (pl.col("probability") * 100).round(0).cast(pl.Int64)
    table = table.with_columns(
        _positive=positive, _negative=negative, _positive_text=positive_text, _negative_text=negative_text,
        top_reasons=pl.concat_str(top_names, separator=",", ignore_nulls=True) if top_names else pl.lit(None, pl.String),
    )
    explanation = pl.concat_str([
        pl.format("Conversion probability is {}% ({}).", pct, pl.col("score_level")),
        pl.format(" Raising it: {}.", pl.col("_positive_text")),
        pl.format(" Lowering it: {}.", pl.col("_negative_text")),
        pl.format(" Expected to close in about {} days (between {} and {}).",
                  pl.col("predicted_days").round(0).cast(pl.Int64), pl.col("interval_low").round(0).cast(pl.Int64),
                  pl.col("interval_high").round(0).cast(pl.Int64)),
    ], ignore_nulls=True)
    document = pl.struct(
        predictionType=pl.lit("CONVERSION"),
        source=pl.lit(predictor.source),
        modelVersion=pl.lit(predictor.model_version, dtype=pl.Int64),
        probability=pl.col("probability").round(6),
        confidence=pl.col("confidence").round(4),
        predictedValue=pl.col("probability").round(6),
        predictedDays=pl.col("predicted_days").round(1),
        confidenceInterval=pl.struct(low=pl.col("interval_low").round(1), high=pl.col("interval_high").round(1)),
        predictedScore=pl.col("score").round(1),
        scoreBreakdown=pl.struct(**{c: pl.col(f"score_{c}").round(2)
                                    for c in ("demographic", "behavioral", "temporal", "engagement")}),
        predictedScoreLevel=pl.col("score_level"),
        priorityScore=pl.col("priority_score").round(2),
        priorityTier=pl.col("priority_tier"),
        explanation=explanation,
        predictedAt=pl.lit(plan_.now.isoformat()),
        validUntil=pl.lit(valid_until.isoformat()),
        detail=pl.lit("summary"),
    )
    # The reasons arrays are JSON already: spliced in before the closing brace.
    encoded = pl.concat_str([document.struct.json_encode().str.head(-1), pl.lit(',"topPositiveReasons":'),
                             pl.col("_positive"), pl.lit(',"topNegativeReasons":'), pl.col("_negative"), pl.lit("}")])
    return table.with_columns(
        priority_score=pl.col("priority_score").round(2),
        _document=encoded,
    ).drop("_positive", "_negative", "_positive_text", "_negative_text", "_recency")




def _fixed_parts(plan_: BulkPlan) -> str:
    """The document keys that are the same for every lead of a bulk run."""
    predictor = plan_.predictor
    numbers = PredictionResult(source=predictor.source, probability=0.0, confidence=0.0, score_level="DEAD",
                               predicted_days=0.0, interval_low=0.0, interval_high=0.0, score=0.0,
                               score_breakdown={}, model_version=predictor.model_version)
    return (f'"riskFactors":[],"recommendations":[],"factors":[],"accelerationOpportunities":[],'
            f'"confidenceMeaning":{json.dumps(CONFIDENCE_MEANING)},"predictedDealValue":null,'
            f'"llmMetadata":{json.dumps(llm.metadata(numbers, detail="bulk scoring: numbers and reasons only"))}')


def _rows(scored: pl.DataFrame, ids: list[int], plan_: BulkPlan) -> list[tuple]:
    predictor = plan_.predictor
    now_ms, until_ms = to_millis(plan_.now), to_millis(plan_.now + plan_.validity)
    frame = scored.with_columns(pl.Series("id", ids, dtype=pl.Int64)).select(
        "id",
        pl.lit(plan_.config_id).alias("config_id"),
        "lead_id",
        pl.lit("CONVERSION").alias("type"),
        "probability", "confidence", "predicted_days", "interval_low", "interval_high",
        pl.col("score").alias("predicted_score"),
        "score_level", "priority_score", "priority_tier", "top_reasons",
        # The id goes first in the document (as the one-lead path returns it), the rest after.
        pl.concat_str([pl.lit('{"predictionId":'), pl.col("id").cast(pl.String), pl.lit(","),
                       pl.lit(_fixed_parts(plan_)), pl.lit(","), pl.col("_document").str.slice(1)]).alias("payload"),
        pl.lit(predictor.source).alias("source"),
        pl.lit(predictor.model_version_id, dtype=pl.Int64).alias("model_version_id"),
        pl.lit(plan_.rule_based_only).alias("rule_based_only"),
        pl.lit("ACTIVE").alias("status"),
        pl.lit(until_ms, dtype=pl.Int64).alias("valid_until"),
        pl.lit(now_ms, dtype=pl.Int64).alias("predicted_at"),
    )
    return frame.rows()


# --- running --------------------------------------------------------------------------------------


Checkpoint = Callable[[Session, int, BulkSummary], None]  # (session, last lead id written, summary so far)


def run(engine: Engine, sessions: sessionmaker[Session], plan_: BulkPlan, *, request: BulkRequest,
        checkpoint: Checkpoint | None = None, progress: Callable[[BulkSummary], None] | None = None,
        source: Engine | Session | None = None) -> BulkSummary:
    """Score `plan_.to_score` chunk by chunk, writing each chunk (and the checkpoint) in one transaction."""
    started = time.perf_counter()
    summary = BulkSummary(total=len(plan_.to_score) + len(plan_.fresh), reused=len(plan_.fresh),
                          processed=len(plan_.fresh), successful=len(plan_.fresh), source=plan_.predictor.source,
                          model_version=plan_.predictor.model_version)
    if progress:
        progress(summary)
    clock = time.perf_counter()
    for features in feature_chunks(source if source is not None else engine, plan_, chunk_leads=request.chunk_leads):
        summary.timings["features"] += time.perf_counter() - clock
        clock = time.perf_counter()
        scored = score_chunk(features, plan_, explain_reasons=request.explain, timings=summary.timings)
        del features
        lead_ids = scored.get_column("lead_id").to_list()
        summary.timings["predict"] += time.perf_counter() - clock
        clock = time.perf_counter()
        with db.transaction(sessions) as session:
            written = prediction_store.write_bulk(session, lead_ids=lead_ids,
                                                  make_rows=lambda ids, s=scored: _rows(s, ids, plan_))
            summary.processed += written
            summary.successful += written
            summary.seconds = time.perf_counter() - started
            if checkpoint:
                checkpoint(session, lead_ids[-1], summary)
        del scored
        summary.timings["write"] += time.perf_counter() - clock
        if progress:
            progress(summary)
        clock = time.perf_counter()
    summary.seconds = time.perf_counter() - started
    return summary


def score_in_session(session: Session, plan_: BulkPlan, *, request: BulkRequest) -> tuple[BulkSummary, dict[int, Any]]:
    """The synchronous path (a few leads): read and write inside the caller's transaction.

    Returns the summary and each chosen lead's stored document (reused ones included)."""
    started = time.perf_counter()
    summary = BulkSummary(total=len(plan_.chosen), reused=len(plan_.fresh), source=plan_.predictor.source,
                          model_version=plan_.predictor.model_version)
    documents: dict[int, Any] = {}
    for features in feature_chunks(session, plan_, chunk_leads=request.chunk_leads):
        scored = score_chunk(features, plan_, explain_reasons=request.explain)
        lead_ids = scored.get_column("lead_id").to_list()
        holder: dict[str, list[tuple]] = {}

        def make(ids, s=scored, h=holder):
            h["rows"] = _rows(s, ids, plan_)
            return h["rows"]

        prediction_store.write_bulk(session, lead_ids=lead_ids, make_rows=make)
        payload_at = prediction_store.BULK_COLUMNS.index("payload")
        for lead_id, row in zip(lead_ids, holder["rows"], strict=True):
            documents[lead_id] = json.loads(row[payload_at])
    if plan_.fresh:
        for lead_id, payload in prediction_store.active_payloads(session, lead_ids=plan_.fresh):
            documents[lead_id] = payload
    summary.processed = summary.successful = len(documents)
    summary.failed = len(plan_.chosen) - len(documents)
    summary.seconds = time.perf_counter() - started
    return summary, documents
