"""Confidence means what it says: of leads given confidence c, about c end the way the model calls them.

A model is trained on one synthetic tenant; its stated confidence is then checked on the labelled rows
of a second tenant drawn from the same funnel (leads it never saw, neither in training nor in the
hold-out the confidence was measured on). Per probability bin, the observed agreement between the
model's call (converts at p >= 0.5) and the outcome must match the confidence it states.

Tolerance: the stated figure is a proportion measured on n_h hold-out leads and the observed one on
n_f fresh leads, both estimating the same agreement q, so their difference has standard error
sqrt(q (1 - q) (1 / n_h + 1 / n_f)). A bin fails when the difference exceeds 3.29 of them (two-sided
0.1 %; over at most 10 bins a correct model fails with probability under 1 %). q is the average of
the two figures, kept inside [0.02, 0.98] so that a bin whose leads all agree still has some room.
Bins with fewer than 30 fresh leads are not judged (their observed share says too little).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from leadml import db, migrate
from leadml.predict.confidence import CONFIDENCE_MEANING, bin_index, confidence_bins, confidence_for
from leadml.scoring import training
from leadml.scoring.training_data import build_training_data
from leadml.storage import bulk, configs, tenants
from leadml.storage import models as model_store
from leadml.synth import generate_funnel

NOW = datetime(2026, 11, 1, tzinfo=UTC)
Z = 3.29
MIN_FRESH = 30


def failing_bins(bins: list[dict], p: np.ndarray, agreed: np.ndarray) -> list[str]:
    """The bins where the stated confidence and the observed agreement on fresh leads disagree."""
    index = bin_index(p)
    failures = []
    for b, row in enumerate(bins):
        members = index == b
        n_fresh = int(members.sum())
        if n_fresh < MIN_FRESH:
            continue
        stated, observed = row["confidence"], float(agreed[members].mean())
        q = min(max((stated + observed) / 2, 0.02), 0.98)
        tolerance = Z * math.sqrt(q * (1 - q) * (1 / max(row["n"], 1) + 1 / n_fresh))
        if abs(stated - observed) > tolerance:
            failures.append(f"bin {row['low']:.1f}-{row['high']:.1f}: stated {stated:.3f}, observed {observed:.3f} "
                            f"on {n_fresh} fresh leads (hold-out n {row['n']}, tolerance {tolerance:.3f})")
    return failures


def _tenant_with_funnel(path, seed):
    """One SQLite file per funnel: a second bulk load into the same file is not what is tested here."""
    engine = db.make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    sessions = db.make_session_factory(engine)
    with db.transaction(sessions) as session:
        tenant, _key = tenants.create_tenant(session, name=f"funnel {seed}")
        config = configs.create_config(session, tenant_id=tenant.id, values={"name": "funnel"})
        tenant_id, config_id = tenant.id, config.id
    bulk.insert_funnel(engine, generate_funnel(6000, seed=seed, now=NOW), tenant_id=tenant_id, config_id=config_id)
    return engine, sessions, config_id


@pytest.fixture(scope="module")
def trained_and_fresh(tmp_path_factory):
    folder = tmp_path_factory.mktemp("confidence")
    engine, sessions, config_id = _tenant_with_funnel(folder / "trained.db", seed=3)
    result = training.train_config(engine, sessions, config_id=config_id, now=NOW)
    with db.transaction(sessions) as session:
        bundle = training.loads(model_store.active(session, config_id=config_id, kind="conversion").artifact)
    engine.dispose()
    fresh_engine, _sessions, fresh_config = _tenant_with_funnel(folder / "fresh.db", seed=4)
    fresh = build_training_data(fresh_engine, config_id=fresh_config, timezone="UTC", horizon_days=90, now=NOW,
                                custom_attributes=None)
    fresh_engine.dispose()
    labelled = fresh.label >= 0
    X, y = fresh.features[labelled][bundle.columns], fresh.label[labelled]
    p = bundle.conversion.predict_proba(X)[:, 1]
    return {"bundle": bundle, "result": result, "p": p, "y": y}


def test_stated_confidence_matches_the_agreement_observed_on_unseen_leads(trained_and_fresh):
    bundle, p, y = trained_and_fresh["bundle"], trained_and_fresh["p"], trained_and_fresh["y"]
    agreed = (p >= 0.5).astype(int) == y
    stated = np.array([confidence_for(bundle.confidence_bins, float(v)) for v in p])
    judged = [b for b in range(10) if (bin_index(p) == b).sum() >= MIN_FRESH]
    assert len(judged) >= 4, judged  # the check covers most of the probability range, not one bin
    assert failing_bins(bundle.confidence_bins, p, agreed) == []
    # Overall too: the mean stated confidence is the share of calls that came true (within 2 points).
    assert abs(stated.mean() - agreed.mean()) < 0.02, (stated.mean(), agreed.mean())
    # Confidence tells leads apart: sure calls (p near 0 or 1) are stated higher than unsure ones.
    assert stated[np.abs(p - 0.5) > 0.4].mean() > stated[np.abs(p - 0.5) < 0.15].mean() + 0.2


def test_a_constant_confidence_fails_the_same_check(trained_and_fresh):
    bundle, p, y = trained_and_fresh["bundle"], trained_and_fresh["p"], trained_and_fresh["y"]
    agreed = (p >= 0.5).astype(int) == y
    for constant in (0.5, round(float(agreed.mean()), 4)):  # a coin, and the overall hit rate for everyone
        flat = [{**row, "confidence": constant} for row in bundle.confidence_bins]
        assert failing_bins(flat, p, agreed), constant


def test_confidence_bins_shrink_sparse_bins_towards_what_the_probabilities_imply():
    p = np.array([0.95, 0.92, 0.05, 0.04, 0.06, 0.45])
    y = np.array([1, 0, 0, 0, 0, 1])
    bins = confidence_bins(y, p)
    top, bottom, middle = bins[9], bins[0], bins[4]
    assert top["n"] == 2 and top["observed"] == 0.5 and top["implied"] == pytest.approx(0.935)
    assert top["confidence"] == pytest.approx(0.935 + (0.5 - 0.935) * 2 / 22, abs=1e-4)
    assert bottom["observed"] == 1.0 and bottom["confidence"] == pytest.approx(0.95 + 0.05 * 3 / 23, abs=1e-4)
    assert middle["observed"] == 0.0  # called "does not convert" at 0.45, and it converted
    empty = bins[7]
    assert empty["n"] == 0 and empty["confidence"] == pytest.approx(0.75)  # the implied agreement at the centre
    assert confidence_for(bins, 1.0) == top["confidence"] and confidence_for(bins, 0.0) == bottom["confidence"]


def test_the_meaning_is_one_sentence_for_the_page_and_the_api():
    assert CONFIDENCE_MEANING.count(". ") == 0 and CONFIDENCE_MEANING.endswith(").")
    assert "held-out leads" in CONFIDENCE_MEANING and "rule-based or LLM" in CONFIDENCE_MEANING
