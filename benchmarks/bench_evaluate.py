"""Model quality on the real data sets (BENCHMARKS.md protocol), next to the reference baselines.

Runs `leadml.evaluate` on:
- X Education, all columns (5-fold stratified CV), and without the post-contact columns;
- the Olist funnel (MQLs joined with closed deals into a CSV written to a temporary directory;
  conversion = the MQL has a closed deal, close date = won_date), time split on the first contact
  date, conversion and time to close.
Then it compares the chosen tree depth with a deeper forest (AUC on the same splits) and measures
what exact explanations cost for 1,000,000 leads. Prints ONE JSON line.

Usage: python benchmarks/bench_evaluate.py [--quick]   (--quick: skip the deeper-forest comparison)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from leadml import evaluate
from leadml.predict.model import ConversionModel

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
POST_CONTACT = ["Tags", "Lead Quality", "Lead Profile", "Last Activity", "Last Notable Activity",
                "Asymmetrique Activity Index", "Asymmetrique Profile Index", "Asymmetrique Activity Score",
                "Asymmetrique Profile Score"]
REFERENCE = {  # BENCHMARKS.md
    "x_education_all": {"naive_bayes_auc": 0.953, "naive_bayes_ece": 0.076, "logistic_auc": 0.981,
                        "logistic_ece": 0.011, "lightgbm_auc": 0.984, "lightgbm_ece": 0.010},
    "x_education_pre_contact": {"naive_bayes_auc": 0.827, "logistic_auc": 0.864, "lightgbm_auc": 0.872,
                                "lightgbm_ece": 0.023},
    "olist": {"naive_bayes_auc": 0.675, "logistic_auc": 0.697, "lightgbm_auc": 0.670,
              "constant_median_mae_days": 30.0, "constant_interval_coverage": 0.75, "weibull_origin_c_index": 0.625},
}
TARGETS = {"ece_max": 0.02, "c_index_min": 0.65, "mae_days_max": 30.0, "coverage": [0.75, 0.85]}


def olist_csv(folder: Path) -> Path:
    source = DATA / "olist-marketing-funnel"
    leads = pd.read_csv(source / "olist_marketing_qualified_leads_dataset.csv")
    deals = pd.read_csv(source / "olist_closed_deals_dataset.csv")[["mql_id", "won_date"]]
    funnel = leads.merge(deals, on="mql_id", how="left")
    funnel["converted"] = funnel["won_date"].notna().astype(int)
    path = folder / "olist_funnel.csv"
    funnel.to_csv(path, index=False)
    return path


def summary(report: dict) -> dict:
    r4 = lambda v: round(float(v), 4)  # noqa: E731
    out = {"rows": report["rows"], "split": report["split"],
           "model": {k: r4(v) for k, v in report["conversion"].items()},
           "baselines": {name: {"auc": r4(m["auc"]), "ece": r4(m["ece"])} for name, m in report["baselines"].items()},
           "trees": report["model"]["trees"], "linear_weight": report["model"]["linear_weight"]}
    best = max(m["auc"] for m in report["baselines"].values())
    out["auc_minus_best_baseline"] = r4(report["conversion"]["auc"] - best)
    if "time_to_close" in report:
        out["time_to_close"] = {k: r4(v) if isinstance(v, float) else v for k, v in report["time_to_close"].items()}
    return out


def explanation_cost(frame: pd.DataFrame, y: np.ndarray, depth: int, rows: int) -> dict:
    """Seconds to explain leads with a model of this depth, as seconds per 1,000,000 leads.

    Our contributions are timed on `rows` leads (including encoding); LightGBM's own pred_contrib on
    min(rows, 100,000) of them; both are scaled to a million.
    """
    model = ConversionModel(max_depth=depth, random_state=0).fit(frame, y)
    big = frame.sample(rows, replace=True, random_state=0).reset_index(drop=True)
    start = time.perf_counter()
    model.contributions(big)
    ours = (time.perf_counter() - start) * 1_000_000 / rows
    sample = min(rows, 100_000)
    pooled = model.encoder_.pool_rare(model.encoder_.transform(big.head(sample)))
    start = time.perf_counter()
    model.booster_.predict(pooled, pred_contrib=True)
    lightgbm = (time.perf_counter() - start) * 1_000_000 / sample
    return {"depth": depth, "trees": model.n_trees_, "measured_rows": rows,
            "method": "lightgbm pred_contrib" if model.explainer_.fallback is not None else "compiled TreeSHAP tables",
            "contributions_s_per_1m": round(ours, 1), "lightgbm_pred_contrib_s_per_1m": round(lightgbm, 1)}


def main(quick: bool = False) -> dict:
    if not DATA.exists():
        raise SystemExit("../shared/data is absent")
    started = time.perf_counter()
    leads = evaluate.load_table(DATA / "x-education-leads" / "Leads.csv", na_values=["Select"])
    result: dict = {"benchmark": "evaluate", "reference": REFERENCE, "targets": TARGETS}
    runs = {
        "x_education_all": (leads, {"target": "Converted"}),
        "x_education_pre_contact": (leads, {"target": "Converted", "exclude": POST_CONTACT}),
    }
    with tempfile.TemporaryDirectory() as folder:
        funnel = evaluate.load_table(olist_csv(Path(folder)))
        runs["olist"] = (funnel, {"target": "converted", "time_column": "first_contact_date",
                                  "start_column": "first_contact_date", "close_column": "won_date"})
        for name, (frame, args) in runs.items():
            result[name] = summary(evaluate.evaluate_frame(frame, **args))
        # Transparency: Olist with the contact month forced in (it spans < 2 years, so the rule drops it).
        forced = evaluate.evaluate_frame(funnel, baselines=False, min_years_for_month=0, **runs["olist"][1])
        result["olist_with_month_forced"] = {"auc": round(forced["conversion"]["auc"], 4),
                                             "ece": round(forced["conversion"]["ece"], 4)}
    result["model_family"] = "LightGBM depth-3 trees (median early-stopped count) + ridge logistic blend, isotonic"
    if not quick:
        deeper = {}
        for name, (frame, args) in runs.items():
            if name == "olist":
                args = {k: v for k, v in args.items() if k not in ("start_column", "close_column")}
                args["exclude"] = ["won_date"]
            report = evaluate.evaluate_frame(frame, baselines=False, model_params={"max_depth": 5}, **args)
            deeper[name] = round(report["conversion"]["auc"] - result[name]["model"]["auc"], 4)
        result["deeper_forest_depth5_auc_gain"] = deeper
        frame = leads.drop(columns=["Converted", "Prospect ID", "Lead Number"])
        y = leads["Converted"].to_numpy()
        result["explain_cost"] = [explanation_cost(frame, y, 3, 1_000_000), explanation_cost(frame, y, 5, 50_000)]
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


if __name__ == "__main__":
    print(json.dumps(main(quick="--quick" in sys.argv)))
