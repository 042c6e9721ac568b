"""Synthetic funnel generation (and optionally its bulk load into SQLite).

Times `generate_funnel` and prints one JSON line:
{"leads", "activities", "outcomes", "seconds", "peak_rss_mib", ...}. Target: 1,000,000 leads with
about 20,000,000 activities in under 60 s on 2 cores. With --insert, also times `insert_funnel`
into a fresh SQLite file (schema from the migrations) and adds "insert_seconds" and
"insert_peak_rss_mib" (the whole process's peak, generation included).

    python benchmarks/bench_synth.py                      # full size
    python benchmarks/bench_synth.py --leads 100000       # smaller
    python benchmarks/bench_synth.py --insert             # plus the SQLite load
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def generate(leads: int, seed: int) -> tuple[object, dict]:
    from leadml.synth import generate_funnel

    load_before = os.getloadavg()[0]
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    funnel = generate_funnel(leads, seed=seed, now=NOW)
    seconds = time.perf_counter() - started
    outcomes = funnel.outcomes
    converted = int((outcomes["status"] == "converted").sum())
    return funnel, {
        "leads": len(funnel.leads),
        "activities": len(funnel.activities),
        "outcomes": len(outcomes),
        "converted_share_of_closed": round(converted / max(len(outcomes), 1), 4),
        "seconds": round(seconds, 2),
        "peak_rss_mib": _peak_rss_mib(),
        "cpu_seconds": round(_cpu_seconds() - cpu_before, 2),
        "load_average_before": round(load_before, 2),
    }


def insert(funnel, path: Path) -> dict:
    from leadml import db, migrate
    from leadml.storage import bulk, configs, tenants

    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = db.make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with db.transaction(db.make_session_factory(engine)) as session:
        tenant, _key = tenants.create_tenant(session, name="bench")
        config = configs.create_config(session, tenant_id=tenant.id, values={"name": "synthetic"})
        tenant_id, config_id = tenant.id, config.id
    started = time.perf_counter()
    counts = bulk.insert_funnel(engine, funnel, tenant_id=tenant_id, config_id=config_id)
    seconds = time.perf_counter() - started
    engine.dispose()
    rows = counts["leads"] + counts["activities"]
    return {
        "insert_seconds": round(seconds, 2),
        "insert_rows_per_second": round(rows / seconds),
        "insert_method": "adbc-worker-process" if bulk._adbc_available() else "executemany",
        "insert_peak_rss_mib": _peak_rss_mib(),
        "db_mib": round(path.stat().st_size / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--insert", action="store_true", help="also time the bulk load into SQLite")
    parser.add_argument("--keep-db", action="store_true", help="keep the SQLite file under var/bench/")
    args = parser.parse_args()

    funnel, result = generate(args.leads, args.seed)
    result = {"benchmark": "synth", **result, "seed": args.seed}
    if args.insert:
        path = Path("var") / "bench" / f"synth-{args.leads}-{args.seed}.db"
        result.update(insert(funnel, path))
        if not args.keep_db:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
