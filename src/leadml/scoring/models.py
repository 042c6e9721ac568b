"""The active trained models of a config as a predictor; rules stay the fallback.

Loading: artifacts are immutable per version id, so the loader keeps the ones it has unpickled,
compiled for one-lead predictions (row encoders, flat tree layouts: `TrainedBundle.compiled`), keyed
by the (conversion, time-to-close) version ids.

Invalidation: which versions are active is read from the database with every prediction, in the
same query that loads the lead (`storage.leads.lead_for_prediction`), so it costs no extra round
trip. A version activated by another process (a training job, a second server, the CLI) is
therefore used from that process's commit on, with no message between processes and nothing to
expire: the old key simply stops being asked for and ages out of the small LRU. (A "models
changed" counter on the config would need a migration and every writer to remember to bump it,
for no saving over reading two ids the lead query returns anyway.)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from leadml.features.single import flatten
from leadml.predict.result import PredictionResult, Thresholds
from leadml.predict.trained import TrainedBundle, predict_trained
from leadml.scoring.training import loads
from leadml.storage import models as model_store
from leadml.storage.tables import ScoringConfig


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
        self._load_lock = threading.Lock()  # one thread unpickles a new version; the others wait for it
        self.capacity = capacity

    def __call__(self, session: Session, config: ScoringConfig,
                 active: model_store.ActiveVersions | None = None) -> ModelPredictor | None:
        """The predictor of the config's active versions (`active` when the caller read them already)."""
        if active is None:
            active = model_store.active_versions(session, config_id=config.id)
        if active.conversion_id is None:
            return None
        bundle = self._bundle(session, active.conversion_id, active.survival_id)
        return ModelPredictor(bundle=bundle, model_version_id=active.conversion_id,
                              model_version=active.conversion_version)

    def bound(self, active: model_store.ActiveVersions) -> Callable[[Session, ScoringConfig], ModelPredictor | None]:
        """This loader as `predictors.choose` calls it, with the active versions already read."""
        return lambda session, config: self(session, config, active)

    def _cached(self, key: tuple[int, int | None]) -> TrainedBundle | None:
        with self._lock:
            bundle = self._cache.get(key)
            if bundle is not None:
                self._cache.move_to_end(key)
            return bundle

    def _bundle(self, session: Session, conversion_id: int, survival_id: int | None) -> TrainedBundle:
        key = (conversion_id, survival_id)
        bundle = self._cached(key)
        if bundle is not None:
            return bundle
        with self._load_lock:
            bundle = self._cached(key)
            if bundle is None:
                bundle = loads(model_store.artifact(session, version_id=conversion_id))
                if survival_id is not None:
                    survival = loads(model_store.artifact(session, version_id=survival_id))
                    bundle = replace(bundle, survival=survival["model"])
                bundle.compiled()  # encoders and tree layouts now, not in the first lead's request
                with self._lock:
                    self._cache[key] = bundle
                    while len(self._cache) > self.capacity:
                        self._cache.popitem(last=False)
        return bundle
