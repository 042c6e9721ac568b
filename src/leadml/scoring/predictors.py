"""Which source produces the numbers: the active trained model when there is one, else the rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from leadml.features.single import flatten
from leadml.predict.result import PredictionResult, Thresholds
from leadml.predict.rules import predict_rules
from leadml.storage.tables import ScoringConfig


class Predictor(Protocol):
    source: str
    model_version_id: int | None
    model_version: int | None

    def predict(self, features: dict[str, dict[str, Any]], *, thresholds: Thresholds) -> PredictionResult: ...


@dataclass
class RulePredictor:
    source: str = "rules"
    model_version_id: int | None = None
    model_version: int | None = None

    def predict(self, features: dict[str, dict[str, Any]], *, thresholds: Thresholds) -> PredictionResult:
        return predict_rules(flatten(features), thresholds=thresholds)


def thresholds_of(config: ScoringConfig) -> Thresholds:
    return Thresholds(hot=config.hot_threshold, warm=config.warm_threshold, cold=config.cold_threshold)


def choose(session: Session, *, config: ScoringConfig, rule_based_only: bool, model_loader=None) -> Predictor:
    """`model_loader(session, config)` returns the active model predictor or None (set by the app/CLI)."""
    if not rule_based_only and model_loader is not None:
        predictor = model_loader(session, config)
        if predictor is not None:
            return predictor
    return RulePredictor()
