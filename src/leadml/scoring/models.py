"""The active trained models of a config as a predictor; rules stay the fallback.

Artifacts are immutable per version id, so a loader keeps the ones it has unpickled; it costs one
indexed lookup per prediction to notice a newly activated version.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from leadml.features.single import flatten
from leadml.predict.result import PredictionResult, Thresholds
from leadml.predict.trained import TrainedBundle, predict_trained
from leadml.scoring.training import loads
from leadml.storage import models as model_store
from leadml.storage.tables import ModelVersion, ScoringConfig


@dataclass
class ModelPredictor:
    bundle: TrainedBundle
    model_version_id: int
    model_version: int
    source: str = "model"

    def predict(self, features: dict[str, dict[str, Any]], *, thresholds: Thresholds) -> PredictionResult:
        return predict_trained(self.bundle, flatten(features), thresholds=thresholds, model_version=self.model_version)


class ModelLoader:
    def __init__(self, capacity: int = 16) -> None:
        self._cache: OrderedDict[tuple[int, int | None], TrainedBundle] = OrderedDict()
        self._lock = threading.Lock()
        self.capacity = capacity

    def _artifact(self, session: Session, version_id: int) -> Any:
        return loads(session.get(ModelVersion, version_id).artifact)

    def __call__(self, session: Session, config: ScoringConfig) -> ModelPredictor | None:
        conversion_id = model_store.active_id(session, config_id=config.id, kind="conversion")
        if conversion_id is None:
            return None
        survival_id = model_store.active_id(session, config_id=config.id, kind="time_to_close")
        key = (conversion_id, survival_id)
        with self._lock:
            bundle = self._cache.get(key)
            if bundle is not None:
                self._cache.move_to_end(key)
        if bundle is None:
            bundle = self._artifact(session, conversion_id)
            if survival_id is not None:
                survival = self._artifact(session, survival_id)
                bundle = replace(bundle, survival=survival["model"])
            with self._lock:
                self._cache[key] = bundle
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        version = session.get(ModelVersion, conversion_id).version
        return ModelPredictor(bundle=bundle, model_version_id=conversion_id, model_version=version)
