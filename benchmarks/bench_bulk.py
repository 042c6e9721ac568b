"""Bulk scoring of a whole config from SQLite, everything written back, beside the single-lead loop.

Builds (once, cached under ./var/bench/) an SQLite database with two configs of synthetic leads
(`leadml synth`'s generator and loader): a small one with outcomes, on which the conversion and
time-to-close models are trained, and the big one (default 1,000,000 leads, about 20,000,000
activities) whose leads are all open and active (a CRM's working set) and which gets the trained
models as its active versions. Then, in a fresh process, it runs the bulk job (`leadml bulk-predict`'s
code path: features -> model -> exact reasons -> priority -> bulk write) over every lead, and calls
the single-lead path (`predict_lead`, forceRefresh) in a loop on a sample of leads. Prints one JSON
line: seconds, leads per second, peak RSS, the loop's throughput and the ratio; stage seconds
(features, predict, explain, write) say what the explanations cost.

    python benchmarks/bench_bulk.py                   # full size (1,000,000 leads)
    python benchmarks/bench_bulk.py --leads 100000    # smaller
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

TRAIN_LEADS = 50_000


def _rss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def build_step(path: Path, step: str, leads: int, seed: int) -> dict:
    """One step of the build, each in its own process: the SQLite loader (ADBC) carries its own
    SQLite library, which must not share a process with sqlite3 writes (see NOTES)."""
    from sqlalchemy import text

    from leadml import db, migrate
    from leadml.storage import configs, tenants
    from leadml.storage.tables import ModelVersion

    engine = db.make_engine(f"sqlite:///{path}")
    sessions = db.make_session_factory(engine)
    out: dict = {}
    if step == "schema":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        migrate.upgrade(engine)
        with db.transaction(sessions) as session:
            tenant, _key = tenants.create_tenant(session, name="bench")
            train_config = configs.create_config(session, tenant_id=tenant.id, values={"name": "train"})
            big_config = configs.create_config(session, tenant_id=tenant.id, values={"name": "bulk"})
            out = {"tenant_id": tenant.id, "train_config": train_config.id, "config_id": big_config.id}
    elif step in ("small", "big"):
        from leadml.storage import bulk
        from leadml.synth import generate_funnel

        meta = json.loads(path.with_suffix(".ids.json").read_text())
        funnel = generate_funnel(TRAIN_LEADS if step == "small" else leads, seed=seed + (1 if step == "small" else 0))
        out = {"activities": len(funnel.activities)}
        config_id = meta["train_config"] if step == "small" else meta["config_id"]
        bulk.insert_funnel(engine, funnel, tenant_id=meta["tenant_id"], config_id=config_id)
    elif step == "train":
        from leadml.jobs import runner
        from leadml.jobs.train import schedule_training, training_work
        from leadml.scoring.training import TrainingOptions

        meta = json.loads(path.with_suffix(".ids.json").read_text())
        with db.transaction(sessions) as session:
            job = schedule_training(session, config=configs.get_config(session, tenant_id=None,
                                                                       config_id=meta["train_config"]))
        trained = runner.run(sessions, job.id, training_work(engine, sessions, meta["train_config"], TrainingOptions()))
        if trained.status != "succeeded":
            raise SystemExit(f"training failed: {trained.error}")
    elif step == "finish":
        meta = json.loads(path.with_suffix(".ids.json").read_text())
        with db.transaction(sessions) as session:
            # Every lead open and active: the bulk job scores the whole config.
            session.execute(text("UPDATE leads SET outcome_status = 'open', outcome_at = NULL, outcome_value = NULL "
                                 "WHERE config_id = :c"), {"c": meta["config_id"]})
            for version in session.query(ModelVersion).filter(ModelVersion.config_id == meta["train_config"],
                                                              ModelVersion.status == "active").all():
                session.add(ModelVersion(config_id=meta["config_id"], kind=version.kind, version=1, status="active",
                                         created_at=version.created_at, activated_at=version.activated_at,
                                         training_summary=version.training_summary, metrics=version.metrics,
                                         feature_importance=version.feature_importance, artifact=version.artifact))
    engine.dispose()
    return out


def build(path: Path, leads: int, seed: int) -> dict:
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    results = {}
    for step in ("schema", "small", "train", "big", "finish"):
        done = subprocess.run([sys.executable, __file__, "--stage", "build-step", "--step", step, "--leads", str(leads),
                               "--seed", str(seed), "--path", str(path)], check=True, capture_output=True, text=True)
        results[step] = json.loads(done.stdout.strip().splitlines()[-1])
        if step == "schema":
            path.with_suffix(".ids.json").write_text(json.dumps(results[step]))
    return {"leads": leads, "activities": results["big"]["activities"], "config_id": results["schema"]["config_id"],
            "train_leads": TRAIN_LEADS, "build_seconds": round(time.perf_counter() - started, 1)}


def measure(path: Path, config_id: int, sample: int, chunk_leads: int) -> dict:
    from sqlalchemy import text

    from leadml import db, migrate
    from leadml.jobs import runner
    from leadml.jobs.bulk import bulk_work, schedule_bulk
    from leadml.scoring.bulk import BulkRequest
    from leadml.scoring.models import ModelLoader
    from leadml.scoring.predict import predict_lead
    from leadml.storage import configs
    from leadml.storage import jobs as job_store
    from leadml.storage.tables import ModelVersion

    engine = db.make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)  # a database cached by an older version
    sessions = db.make_session_factory(engine)
    with engine.begin() as conn:  # a clean slate for every run
        conn.execute(text("DELETE FROM predictions WHERE config_id = :c"), {"c": config_id})
        conn.execute(text("DELETE FROM jobs WHERE config_id = :c"), {"c": config_id})
    load_before = os.getloadavg()[0]
    loader = ModelLoader()
    started = time.perf_counter()
    with db.transaction(sessions) as session:
        job_id = schedule_bulk(session, config=configs.get_config(session, tenant_id=None, config_id=config_id),
                               request=BulkRequest(limit=None, force_refresh=True, chunk_leads=chunk_leads)).id
    job = runner.run(sessions, job_id, bulk_work(engine, sessions, job_id, model_loader=loader))
    seconds = time.perf_counter() - started
    peak_self, peak_child = _rss_mib(resource.RUSAGE_SELF), _rss_mib(resource.RUSAGE_CHILDREN)
    with db.transaction(sessions) as session:
        record = job_store.to_dict(job_store.get_job(session, tenant_id=None, job_id=job_id))
    if job.status != "succeeded":
        raise SystemExit(f"bulk job {job.status}: {job.error}")
    # Check from a new connection that everything was written back, once per lead.
    with db.make_engine(f"sqlite:///{path}").connect() as conn:
        stored, distinct, with_reasons = conn.execute(text(
            "SELECT count(*), count(DISTINCT lead_id), sum(top_reasons IS NOT NULL) FROM predictions"
            " WHERE config_id = :c AND status = 'ACTIVE'"), {"c": config_id}).one()
    result = record["result"]
    # The single-lead path in a loop on a sample (forceRefresh: features, model, reasons, narrative, write).
    with db.transaction(sessions) as session:
        ids = [r[0] for r in session.execute(text("SELECT id FROM leads WHERE config_id = :c ORDER BY id LIMIT :n"),
                                             {"c": config_id, "n": sample})]
        auc = session.query(ModelVersion).filter(ModelVersion.config_id == config_id,
                                                 ModelVersion.kind == "conversion").one().metrics.get("auc")
    loop_started = time.perf_counter()
    for lead_id in ids:
        with db.transaction(sessions) as session:
            predict_lead(session, tenant_id=None, lead_id=lead_id, force_refresh=True, model_loader=loader)
    loop_seconds = time.perf_counter() - loop_started
    bulk_rate = stored / seconds
    loop_rate = len(ids) / loop_seconds
    stages = result["stageSeconds"]
    return {
        "seconds": round(seconds, 2),
        "leads_scored": result["successful"],
        "predictions_stored": stored,
        "distinct_leads_stored": distinct,
        "with_top_reasons": int(with_reasons or 0),
        "leads_per_second": round(bulk_rate, 1),
        "peak_rss_mib": round(peak_self + peak_child, 1),
        "peak_rss_mib_main": round(peak_self, 1),
        "peak_rss_mib_feature_process": round(peak_child, 1),
        "stage_seconds": stages,
        "explain_seconds": stages.get("explain"),
        "explain_share_of_predict": round(stages["explain"] / stages["predict"], 3) if stages.get("predict") else None,
        "single_lead_sample": len(ids),
        "single_lead_per_second": round(loop_rate, 2),
        "ratio_bulk_vs_loop": round(bulk_rate / loop_rate, 1),
        "source": result["source"],
        "model": "conversion: depth-3 LightGBM + ridge logistic blend, isotonic calibration; reasons: exact "
                 "TreeSHAP by table lookup + exact linear terms, top 3 each way; time to close: hazard model",
        "model_holdout_auc": auc,
        "chunk_leads": chunk_leads,
        "load_average_before": round(load_before, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=200, help="leads for the single-lead loop")
    parser.add_argument("--chunk-leads", type=int, default=100_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--stage", choices=("all", "build-step", "measure"), default="all")
    parser.add_argument("--step", default=None)
    parser.add_argument("--path", type=Path, default=None)
    args = parser.parse_args()
    path = args.path or Path("var/bench") / f"bulk-{args.leads}-s{args.seed}.db"
    meta_path = path.with_suffix(".json")
    if args.stage == "build-step":
        print(json.dumps(build_step(path, args.step, args.leads, args.seed)))
        return
    if args.stage == "measure":
        meta = json.loads(meta_path.read_text())
        print(json.dumps(measure(path, meta["config_id"], args.sample, args.chunk_leads)))
        return
    # Each stage in its own process, so the measured process's peak RSS is the scoring's alone.
    if args.rebuild or not meta_path.exists():
        meta_path.write_text(json.dumps(build(path, args.leads, args.seed)))
    meta = json.loads(meta_path.read_text())
    out = subprocess.run([sys.executable, __file__, "--stage", "measure", "--path", str(path), "--sample",
                          str(args.sample), "--chunk-leads", str(args.chunk_leads)], check=True, capture_output=True,
                         text=True)
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps({"leads": meta["leads"], "activities": meta["activities"], **measured,
                      "build_seconds": meta["build_seconds"]}))


if __name__ == "__main__":
    main()
