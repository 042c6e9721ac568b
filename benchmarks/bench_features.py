"""Feature computation for every lead of a config, straight from SQLite.

Builds (once, cached under ./var/bench/) an SQLite database of simple random leads and
activities, then times `compute_features_for_config` over all leads and prints one JSON line:
{"leads", "activities", "seconds", "peak_rss_mib", ...}. Target: 1,000,000 leads with about
20,000,000 activities in under 30 s and 2 GiB on 2 cores.

    python benchmarks/bench_features.py                 # full size
    python benchmarks/bench_features.py --leads 50000   # smaller
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
DAY_MS = 86_400_000
TYPES = ["email_sent", "email_open", "email_click", "page_view", "form_submit", "meeting", "call", "webinar"]
TYPE_SHARES = [0.28, 0.25, 0.08, 0.27, 0.04, 0.03, 0.03, 0.02]


def build(path: Path, leads: int, per_lead: float, order: str, seed: int) -> dict:
    """Create the schema with the ORM metadata, then bulk-load random rows through ADBC."""
    import adbc_driver_sqlite.dbapi as adbc_sqlite
    import numpy as np
    import polars as pl
    from sqlalchemy import text

    from leadml.db import make_engine
    from leadml.storage.tables import Base

    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    now_ms = int(AS_OF.timestamp() * 1000)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (id, name, created_at) VALUES (1, 'bench', :t)"), {"t": now_ms})
        conn.execute(
            text(
                "INSERT INTO scoring_configs (id, tenant_id, name, hot_threshold, warm_threshold, cold_threshold,"
                " timezone, horizon_days, prediction_validity_days, feature_attributes, llm_enabled, llm_mode,"
                " created_at, updated_at) VALUES (1, 1, 'bench', 80, 50, 20, 'America/New_York', 90, 7, '[]', 0,"
                " 'narrative', :t, :t)"
            ),
            {"t": now_ms},
        )
        # Loading without the activity indexes and creating them afterwards is several times faster.
        indexes = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master"
                " WHERE type = 'index' AND tbl_name = 'activities' AND sql IS NOT NULL"
            )
        ).all()
        for name, _ in indexes:
            conn.execute(text(f"DROP INDEX {name}"))
    engine.dispose()

    rng = np.random.default_rng(seed)
    ids = np.arange(1, leads + 1, dtype=np.int64)
    created = now_ms - rng.integers(0, 730 * DAY_MS, leads)
    pick = lambda options, n: pl.Series(options).gather(rng.integers(0, len(options), n))  # noqa: E731
    domains = pick(
        [
            "gmail.com",
            "yahoo.co.uk",
            "outlook.com",
            "mit.edu",
            "state.gov",
            "acme.com",
            "globex.io",
            "initech.de",
            "umbrella.co.jp",
            "hooli.com",
        ],
        leads,
    )
    frame = pl.DataFrame(
        {
            "id": ids,
            "domain": domains,
            "company_form": pick(["Inc.", "LLC", "GmbH", "Holdings", "", "Ltd", "Corp."], leads),
        }
    )
    lead_frame = frame.select(
        "id",
        pl.lit(1).alias("tenant_id"),
        pl.lit(1).alias("config_id"),
        pl.format("user{}@{}", "id", "domain").alias("email"),
        pl.when(pl.col("id") % 7 == 0)
        .then(None)
        .otherwise(pl.format("Company {} {}", pl.col("id") % 5000, "company_form"))
        .alias("company"),
        pl.when(pl.col("id") % 4 == 0).then(None).otherwise(pl.lit("+1 555 0100")).alias("phone"),
        pick(
            [
                "CEO",
                "Vice President of Sales",
                "Director of IT",
                "Head of Growth",
                "Sales Manager",
                "Engineer",
                "Analyst",
                None,
            ],
            leads,
        ).alias("title"),
        pl.lit("[]").alias("tags"),
        pl.format(
            '{{"industry": "{}", "employees": {}, "source": "{}"}}',
            pick(["software", "retail", "finance", "health", "education"], leads),
            pl.Series(rng.choice([3, 25, 150, 800, 5000, 40000], leads)),
            pick(["web", "referral", "event", "ads", "Select"], leads),
        ).alias("attributes"),
        pl.Series(created).alias("created_at"),
        pl.Series(created).alias("updated_at"),
        pl.lit(1).alias("is_active"),
        pick(["welcome", None], leads).alias("sequence_name"),
        pl.Series(rng.integers(0, 6, leads)).alias("sequence_step"),
        pl.lit(5).alias("sequence_total"),
        pl.Series(rng.integers(0, 2, leads)).alias("sequence_active"),
        pl.lit("open").alias("outcome_status"),
    )
    connection = adbc_sqlite.connect(str(path))
    with connection.cursor() as cursor:
        cursor.adbc_ingest("leads", lead_frame.to_arrow(), mode="append")
    connection.commit()
    del lead_frame, frame

    counts = rng.poisson(per_lead, leads)
    owner = np.repeat(ids, counts)
    total = int(counts.sum())
    type_codes = rng.choice(len(TYPES), total, p=TYPE_SHARES)
    occurred = created[owner - 1] + rng.integers(-5 * DAY_MS, 400 * DAY_MS, total)
    outbound = (type_codes == 0) | ((type_codes == 6) & (rng.random(total) < 0.3))
    activities = pl.DataFrame(
        {
            "lead_id": owner,
            "occurred_at": occurred,
            "code": type_codes.astype(np.int8),
            "outbound": outbound,
        }
    )
    del owner, occurred, type_codes, outbound
    activities = activities.sort("occurred_at" if order == "time" else ["lead_id", "occurred_at"])
    batch = 2_000_000
    with connection.cursor() as cursor:
        for start in range(0, total, batch):
            part = activities.slice(start, batch).select(
                pl.int_range(start + 1, start + 1 + pl.len()).alias("id"),
                pl.lit(1).alias("config_id"),
                "lead_id",
                pl.lit(pl.Series(TYPES)).gather(pl.col("code")).alias("type"),
                "occurred_at",
                pl.when("outbound").then(pl.lit("outbound")).otherwise(pl.lit("inbound")).alias("direction"),
            )
            cursor.adbc_ingest("activities", part.to_arrow(), mode="append")
    connection.commit()
    with connection.cursor() as cursor:
        for _, sql in indexes:
            cursor.execute(sql)
        cursor.execute("ANALYZE")
    connection.commit()
    connection.close()
    return {
        "leads": leads,
        "activities": total,
        "order": order,
        "seed": seed,
        "build_seconds": round(time.perf_counter() - started, 1),
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(path: Path, chunk_leads: int, timezone: str) -> dict:
    from leadml.db import make_engine
    from leadml.storage.feature_frames import compute_features_for_config

    engine = make_engine(f"sqlite:///{path}")
    load_before = os.getloadavg()[0]
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    rows = activities_counted = 0
    for frame in compute_features_for_config(
        engine, config_id=1, as_of=AS_OF, timezone=timezone, chunk_leads=chunk_leads
    ):
        rows += frame.height
        activities_counted += int(frame.get_column("totalActivities").sum())
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    engine.dispose()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": round(seconds, 2),
        "leads_scored": rows,
        "leads_per_second": round(rows / seconds),
        "inbound_activities_counted": activities_counted,
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "cpu_seconds": round(cpu, 2),
        "load_average_before": round(load_before, 2),
        "chunk_leads": chunk_leads,
        "timezone": timezone,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--activities-per-lead", type=float, default=20.0)
    parser.add_argument(
        "--order",
        choices=["lead", "time"],
        default="lead",
        help="row order of inserted activities: grouped by lead, or interleaved by time",
    )
    parser.add_argument("--chunk-leads", type=int, default=200_000)
    parser.add_argument("--timezone", default="America/New_York")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    name = f"features-{args.leads}-{args.activities_per_lead:g}-{args.order}-{args.seed}"
    path = Path("var") / "bench" / f"{name}.db"
    manifest = path.with_suffix(".json")
    if args.build_only:
        manifest.write_text(json.dumps(build(path, args.leads, args.activities_per_lead, args.order, args.seed)))
        return
    reused = not (args.rebuild or not manifest.exists() or not path.exists())
    if not reused:
        manifest.unlink(missing_ok=True)
        # Build in a child process so that this process's peak memory is the measurement's alone.
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--build-only"], check=True)
    built = json.loads(manifest.read_text())
    result = {
        "benchmark": "features",
        **built,
        **measure(path, args.chunk_leads, args.timezone),
        "reader": "adbc-sqlite-worker-process",
        "reused_db": reused,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
