"""How many distinct probabilities a ranked page of 100 leads shows, on the demo data.

Runs `leadml demo --no-serve` into a fresh SQLite file (synthetic leads, trained model, the newest
open leads scored), reads the first 100 leads of the ranking the ML Insights page shows, and counts
the distinct probabilities as the page prints them (to a tenth of a percent). Prints one JSON line:
{"leads", "ranked", "page", "distinct_shown", "largest_tie", "shown_0_or_100", "min", "max"}.

    python benchmarks/bench_probability_ties.py              # 5,000 demo leads
    python benchmarks/bench_probability_ties.py --leads 3000 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--page", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LEADML_DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'demo.db'}"
        from leadml import db
        from leadml.cli.common import open_database
        from leadml.cli.demo import DEMO_CONFIG
        from leadml.storage import configs, ranking
        from leadml.storage.tables import Tenant

        # A separate process: the demo's bulk loader carries its own SQLite library (see NOTES.md).
        subprocess.run([sys.executable, "-c", "from leadml.cli import app; app()", "demo", "--no-serve", "--leads", str(args.leads),
                        "--seed", str(args.seed)], check=True, capture_output=True)
        database = open_database()
        with db.transaction(database.sessions) as session:
            tenant = session.query(Tenant).filter_by(name="demo").one()
            config = next(c for c in configs.list_configs(session, tenant_id=tenant.id) if c.name == DEMO_CONFIG)
            ranked = ranking.top_leads(session, config_id=config.id, n=1000)
        database.engine.dispose()
    page = [r["conversionProbability"] for r in ranked[: args.page]]
    shown = [f"{100 * p:.1f}" for p in page]
    counts = Counter(shown)
    print(json.dumps({
        "leads": args.leads, "ranked": len(ranked), "page": len(page), "distinct_shown": len(counts),
        "largest_tie": max(counts.values()) if counts else 0,
        "shown_0_or_100": sum(1 for s in shown if s in ("0.0", "100.0")),
        "distinct_all_ranked": len({f"{100 * r['conversionProbability']:.1f}" for r in ranked}),
        "min": min(page) if page else None, "max": max(page) if page else None,
    }))


if __name__ == "__main__":
    main()
