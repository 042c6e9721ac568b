"""Training a config's models from its recorded outcomes, and promoting them only when they are better.

Steps: point-in-time and snapshot rows (training_data.py) -> hold-out (the newest 20 % of labelled
leads by creation time; a stratified random 20 % of the snapshot leads imported without dates) -> conversion model fitted on the older 80 % -> hold-out metrics -> the
active version scored on the same hold-out -> promotion when the candidate's ROC AUC is at least the
active one's. The time-to-close model follows the same path with the C-index, on the same hold-out
leads, and only with enough evidence: at least `min_ttc_train_closures` converted leads in training
and `min_ttc_holdout_closures` in the hold-out (below that no version is trained, the rules keep
estimating days and the reason is recorded). The stored artifact is the model fitted on the 80 %, so
its stored metrics are honest hold-out figures. Every version's training summary says why it was or
was not promoted (`promotion`).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from leadml import db, errors
from leadml.features.attributes import CUSTOM_PREFIX
from leadml.features.catalogue import FEATURES
from leadml.predict import metrics
from leadml.predict.model import ConversionModel
from leadml.predict.survival import TimeToCloseModel
from leadml.predict.trained import TrainedBundle, confidence_bins
from leadml.scoring.training_data import TrainingData, build_training_data
from leadml.storage import configs
from leadml.storage import models as model_store

log = logging.getLogger(__name__)
HOLDOUT_SHARE = 0.2
CATEGORY_OF = {spec.name: spec.category for spec in FEATURES}


@dataclass
class TrainingOptions:
    min_converted: int = 40
    min_lost: int = 40
    min_ttc_train_closures: int = 40
    min_ttc_holdout_closures: int = 20
    seed: int = 0

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> TrainingOptions:
        values = {"min_converted": settings.min_converted, "min_lost": settings.min_lost,
                  "min_ttc_train_closures": settings.min_ttc_train_closures,
                  "min_ttc_holdout_closures": settings.min_ttc_holdout_closures}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def dumps(obj: Any) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer, compress=3)
    return buffer.getvalue()


def loads(blob: bytes) -> Any:
    return joblib.load(io.BytesIO(blob))


def category_of(column: str) -> str:
    return "custom" if column.startswith(CUSTOM_PREFIX) else CATEGORY_OF.get(column, "custom")


def time_split(created_ms: np.ndarray, share: float = HOLDOUT_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, hold-out): the newest `share` of rows by creation time are held out."""
    order = np.argsort(created_ms, kind="stable")
    cut = int(round(len(order) * (1 - share)))
    holdout = np.zeros(len(order), dtype=bool)
    holdout[order[cut:]] = True
    return ~holdout, holdout


def holdout_split(created_ms: np.ndarray, dated: np.ndarray | None, y: np.ndarray, *, seed: int = 0,
                  share: float = HOLDOUT_SHARE) -> tuple[np.ndarray, np.ndarray, str]:
    """(train, hold-out, how): the newest `share` of the dated rows by creation time, and a stratified
    random `share` of the undated ones (snapshot leads imported without dates: their creation time
    is the import's, so it cannot order them). The random part is the first fold of a shuffled
    stratified k-fold with k = 1 / share, the split `leadml evaluate` cross-validates over."""
    dated = np.ones(len(y), dtype=bool) if dated is None else np.asarray(dated, dtype=bool)
    holdout = np.zeros(len(y), dtype=bool)
    if dated.any():
        _, newest = time_split(created_ms[dated], share)
        holdout[np.flatnonzero(dated)[newest]] = True
    undated = np.flatnonzero(~dated)
    if len(undated):
        from sklearn.model_selection import StratifiedKFold

        folds = int(round(1 / share))
        if np.bincount(y[undated].astype(np.int64), minlength=2).min() >= folds:
            _, test = next(StratifiedKFold(folds, shuffle=True, random_state=seed).split(undated, y[undated]))
        else:  # too few of a class to stratify
            test = np.random.default_rng(seed).permutation(len(undated))[: int(round(len(undated) * share))]
        holdout[undated[test]] = True
    how = "time" if not len(undated) else "stratified random" if not dated.any() else "time + stratified random"
    return ~holdout, holdout, how


def _check_enough(data: TrainingData, options: TrainingOptions) -> None:
    labelled = data.label >= 0
    positives, negatives = int((data.label[labelled] == 1).sum()), int((data.label[labelled] == 0).sum())
    if positives < options.min_converted or negatives < options.min_lost:
        raise errors.ModelNotReady(not_enough_message(data.summary, positives, negatives, options),
                                   details={"converted": positives, "notConverted": negatives, "summary": data.summary})


def not_enough_message(summary: dict[str, Any], positives: int, negatives: int, options: TrainingOptions) -> str:
    """One line: what was found, why outcomes did not count, and what fixes it."""
    found = (f"found {summary['leads']} leads: {summary['converted']} converted, {summary['lost']} lost, "
             f"{summary['open']} open")
    unusable = []
    if summary["openTooYoung"]:
        unusable.append(f"{summary['openTooYoung']} open leads are younger than the {summary['horizonDays']}-day "
                        "horizon, so their outcome is not known yet")
    late = summary["converted"] - summary["positives"]
    if late > 0:
        unusable.append(f"{late} converted more than {summary['horizonDays']} days after their snapshot and count as "
                        "not converted")
    return (f"not enough outcomes to train: {positives} converted and {negatives} not converted leads usable, "
            f"at least {options.min_converted} and {options.min_lost} needed; {found}"
            + (f" ({'; '.join(unusable)})" if unusable else "")
            + ". To fix: import the export with its outcomes (leadml import leads FILE --outcome-column COLUMN "
              "[--positive VALUE]), record outcomes (leadml import outcomes FILE, or POST /leads/{id}/outcome), "
              "or lower the minimums (leadml train --min-converted N --min-lost N, or LEADML_MIN_CONVERTED / "
              "LEADML_MIN_LOST)")


def _conversion_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    report = metrics.conversion_report(y, p)
    report["calibrationCurve"] = metrics.calibration_curve(y, p)
    return report


def _score_active_conversion(session: Session, config_id: int, X: pd.DataFrame, y: np.ndarray) -> float | None:
    row = model_store.active(session, config_id=config_id, kind="conversion")
    if row is None or row.artifact is None:
        return None
    bundle: TrainedBundle = loads(row.artifact)
    p = bundle.conversion.predict_proba(bundle.frame(X.to_dict(orient="records")))[:, 1]
    return metrics.roc_auc(y, p) if len(np.unique(y)) == 2 else None


def _score_active_survival(session: Session, config_id: int, X: pd.DataFrame, durations, events) -> float | None:
    row = model_store.active(session, config_id=config_id, kind="time_to_close")
    if row is None or row.artifact is None:
        return None
    bundle = loads(row.artifact)
    return metrics.c_index(durations, bundle["model"].expected_days_open(X[bundle["columns"]]), events)


def train_config(engine: Engine, sessions: sessionmaker[Session], *, config_id: int, now: datetime | None = None,
                 options: TrainingOptions | None = None, progress=None) -> dict[str, Any]:
    """Train, evaluate, store and (when better) promote. Returns a summary for the job record."""
    options = options or TrainingOptions()
    now = now or datetime.now(UTC)
    step = progress or (lambda done, total: None)
    with db.transaction(sessions) as session:
        config = configs.get_config(session, tenant_id=None, config_id=config_id)
        timezone, horizon = config.timezone, config.horizon_days
        custom = list(config.feature_attributes) or None
    step(0, 4)
    data = build_training_data(engine, config_id=config_id, timezone=timezone, horizon_days=horizon, now=now,
                               custom_attributes=custom, seed=options.seed)
    _check_enough(data, options)
    step(1, 4)
    columns = list(data.features.columns)
    labelled = data.label >= 0
    X, y = data.features[labelled].reset_index(drop=True), data.label[labelled]
    dated = None if data.dated is None else data.dated[labelled]
    train, holdout, holdout_kind = holdout_split(data.created_at_ms[labelled], dated, y, seed=options.seed)
    model = ConversionModel(random_state=options.seed).fit(X[train], y[train])
    p_holdout = model.predict_proba(X[holdout])[:, 1]
    y_holdout = y[holdout]
    conversion_metrics = _conversion_metrics(y_holdout, p_holdout)
    bundle = TrainedBundle(conversion=model, columns=columns, categories={c: category_of(c) for c in columns},
                           confidence_bins=confidence_bins(y_holdout, p_holdout), custom_attributes=custom)
    importance = [{"name": name, "importance": round(float(value), 6), "category": category_of(name)}
                  for name, value in model.feature_importance_]
    summary = {**data.summary, "trainRows": int(train.sum()), "holdoutRows": int(holdout.sum()),
               "holdoutPositives": int(y_holdout.sum()), "holdout": holdout_kind, "columns": columns}
    step(2, 4)
    # The time-to-close hold-out is the conversion hold-out's leads (labelled leads only).
    ttc_holdout = np.zeros(len(data.label), dtype=bool)
    ttc_holdout[np.flatnonzero(labelled)[holdout]] = True
    survival_result = _train_survival(data, options, labelled, ttc_holdout)
    step(3, 4)
    result: dict[str, Any] = {"summary": summary}
    with db.transaction(sessions) as session:
        active_auc = _score_active_conversion(session, config_id, X[holdout], y_holdout)
        conversion_metrics["activeAucOnSameHoldout"] = active_auc
        promoted = active_auc is None or conversion_metrics["auc"] >= active_auc
        note = _promotion_note(promoted, "ROC AUC", conversion_metrics["auc"], active_auc)
        version = model_store.add_version(session, config_id=config_id, kind="conversion", artifact=dumps(bundle),
                                          metrics=conversion_metrics, training_summary={**summary, "promotion": note},
                                          feature_importance=importance)
        if promoted:
            model_store.activate(session, version=version)
        result["conversion"] = {"versionId": version.id, "version": version.version, "promoted": promoted,
                                "reason": note["reason"],
                                "metrics": {k: v for k, v in conversion_metrics.items() if k != "calibrationCurve"}}
        if "model" in survival_result:
            surv_metrics, evidence = survival_result["metrics"], survival_result["evidence"]
            active_c = _score_active_survival(session, config_id, *survival_result["holdoutRows"])
            surv_metrics["activeCIndexOnSameHoldout"] = active_c
            surv_promoted = active_c is None or surv_metrics["c_index"] >= active_c
            surv_note = _promotion_note(surv_promoted, "C-index", surv_metrics["c_index"], active_c)
            surv_version = model_store.add_version(
                session, config_id=config_id, kind="time_to_close",
                artifact=dumps({"model": survival_result["model"], "columns": survival_result["columns"]}),
                metrics=surv_metrics,
                training_summary={"rows": int(np.isfinite(data.duration_days).sum()), "closed": int(data.closed.sum()),
                                  "evidence": evidence, "promotion": surv_note},
                feature_importance=[])
            if surv_promoted:
                model_store.activate(session, version=surv_version)
            result["timeToClose"] = {"versionId": surv_version.id, "version": surv_version.version,
                                     "promoted": surv_promoted, "reason": surv_note["reason"],
                                     "evidence": evidence, "metrics": surv_metrics}
        else:
            # No version: the rules keep estimating days; the conversion version records why.
            result["timeToClose"] = {"skipped": survival_result["reason"], "evidence": survival_result["evidence"]}
        version.training_summary = {**version.training_summary, "timeToClose": {
            k: v for k, v in result["timeToClose"].items() if k != "metrics"}}
        session.flush()
    step(4, 4)
    return result


def _promotion_note(promoted: bool, metric: str, candidate: float, active: float | None) -> dict[str, Any]:
    if active is None:
        reason = f"promoted: no active version to compare with (hold-out {metric} {candidate:.4f})"
    elif promoted:
        reason = f"promoted: hold-out {metric} {candidate:.4f} is at least the active version's {active:.4f}"
    else:
        reason = (f"not promoted: hold-out {metric} {candidate:.4f} is below the active version's {active:.4f} "
                  "on the same hold-out")
    return {"promoted": promoted, "reason": reason}


def _train_survival(data: TrainingData, options: TrainingOptions, labelled: np.ndarray,
                    holdout_rows: np.ndarray) -> dict[str, Any]:
    """Time to close from the snapshot: converted leads are events, open leads censored, lost left out.

    Trained on labelled leads outside the hold-out, measured on those inside it; only when both hold
    enough closures (the evidence minimums). Returns {"model", "metrics", "columns", "holdoutRows",
    "evidence"} or {"reason", "evidence"} when there is too little evidence.
    """
    usable = np.isfinite(data.duration_days) & (data.duration_days >= 0) & labelled
    train_rows, test_rows = usable & ~holdout_rows, usable & holdout_rows
    evidence = {"trainClosures": int(data.closed[train_rows].sum()), "holdoutClosures": int(data.closed[test_rows].sum()),
                "minTrainClosures": options.min_ttc_train_closures,
                "minHoldoutClosures": options.min_ttc_holdout_closures}
    if (evidence["trainClosures"] < options.min_ttc_train_closures
            or evidence["holdoutClosures"] < options.min_ttc_holdout_closures):
        reason = (f"not enough closed leads for a time-to-close model: {evidence['trainClosures']} in training and "
                  f"{evidence['holdoutClosures']} in the hold-out; at least {options.min_ttc_train_closures} and "
                  f"{options.min_ttc_holdout_closures} are needed, so the rules estimate days")
        return {"reason": reason, "evidence": evidence}
    X = data.features[usable].reset_index(drop=True)
    durations = np.maximum(data.duration_days[usable], 0.01)
    events = data.closed[usable]
    holdout = holdout_rows[usable]
    train = ~holdout
    model = TimeToCloseModel(random_state=options.seed).fit(X[train], durations[train], events[train])
    median, low, high = model.predict_interval(X[holdout])
    closed = events[holdout] == 1
    surv_metrics = {
        # Ranked by the expected days open within the horizon, which also reflects how likely a lead is
        # to close at all (the median alone, conditional on closing, ranks censored leads poorly).
        "c_index": metrics.c_index(durations[holdout], model.expected_days_open(X[holdout]), events[holdout]),
        "mae_days": metrics.mae_days(durations[holdout][closed], median[closed]) if closed.any() else None,
        "interval_coverage": metrics.interval_coverage(durations[holdout][closed], low[closed], high[closed])
        if closed.any() else None,
        "holdoutClosed": int(closed.sum()),
    }
    return {"model": model, "metrics": surv_metrics, "columns": list(X.columns), "evidence": evidence,
            "holdoutRows": (X[holdout], durations[holdout], events[holdout])}
