"""Training a config's models from its outcomes, and how much the trained model beats the rules.

Generates a synthetic funnel (default 100,000 leads with their activities) into a fresh SQLite file,
times `train_config` (point-in-time rows, conversion model with cross-fitted calibration, survival
model, hold-out metrics, storage), then scores the same time-based hold-out with the cold-start
rules. Prints one JSON line:
{"leads", "activities", "train_seconds", "peak_rss_mib", "model": {...}, "rules": {...},
 "auc_margin", "time_to_close": {...}}.
Target (BENCHMARKS.md): training on 100,000 leads under 60 s on 2 cores.

    python benchmarks/bench_train.py                 # 100,000 leads
    python benchmarks/bench_train.py --leads 20000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    import polars as pl

    from leadml import db, migrate
    from leadml.predict import metrics
    from leadml.predict.rules_table import predict_rules_table
    from leadml.scoring import training
    from leadml.scoring.training_data import build_training_data
    from leadml.storage import bulk, configs, tenants
    from leadml.synth import generate_funnel

    with tempfile.TemporaryDirectory() as tmp:
        engine = db.make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate.upgrade(engine)
        sessions = db.make_session_factory(engine)
        with db.transaction(sessions) as session:
            tenant, _key = tenants.create_tenant(session, name="bench")
            config = configs.create_config(session, tenant_id=tenant.id, values={"name": "bench"})
            tenant_id, config_id = tenant.id, config.id
        funnel = generate_funnel(args.leads, seed=args.seed, now=NOW)
        bulk.insert_funnel(engine, funnel, tenant_id=tenant_id, config_id=config_id)
        activities = len(funnel.activities)
        del funnel
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        result = training.train_config(engine, sessions, config_id=config_id, now=NOW)
        train_seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        # The rules on exactly the hold-out the model was measured on.
        data = build_training_data(engine, config_id=config_id, timezone="UTC", horizon_days=90, now=NOW,
                                   custom_attributes=None)
        labelled = data.label >= 0
        _train, holdout = training.time_split(data.created_at_ms[labelled])
        X, y = data.features[labelled][holdout].reset_index(drop=True), data.label[labelled][holdout]
        rules_p = predict_rules_table(pl.from_pandas(X))["probability"].to_numpy()
        rules = {k: round(v, 4) for k, v in metrics.conversion_report(y, rules_p).items()}
        engine.dispose()
    model = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in result["conversion"]["metrics"].items()}
    print(json.dumps({
        "benchmark": "train", "leads": args.leads, "activities": activities, "machine_cores": os.cpu_count(),
        "load_before": round(load_before, 2), "train_seconds": round(train_seconds, 2),
        "peak_rss_mib": round(peak, 1), "holdout_rows": result["summary"]["holdoutRows"],
        "model": model, "rules": rules, "auc_margin": round(model["auc"] - rules["auc"], 4),
        "time_to_close": result.get("timeToClose", {}).get("metrics"),
    }))


if __name__ == "__main__":
    main()
