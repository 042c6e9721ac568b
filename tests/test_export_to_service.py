"""From a CRM export to a trained service (X Education): import with outcomes, train, score a new lead.

The service's stored hold-out AUC is compared with `leadml evaluate` on the same columns. What makes
the two comparable: the same rows and the same columns (the import reads "Tags" as the lead's tags,
which are not a model feature, so evaluate runs with --exclude Tags; both drop the identifier
columns), the same placeholders read as missing (--na-values Select on both), the same model class
and settings (ConversionModel, seed 0). The service holds out a stratified random 20 % (the export
has no dates): the first fold of the same shuffled stratified 5-fold split evaluate cross-validates
over, so one number is one fold's and the other is pooled over five. The gap allowed is 0.01; the
figures and evaluate's per-fold spread are printed (pytest -s) so a drift can be judged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import shared_data
from leadml import db
from leadml.config import Settings
from leadml.evaluate import evaluate_frame, load_table
from leadml.storage import models as model_store

BASE = "/api/lead-scoring"


def _leadml(url: str, *args: str) -> subprocess.CompletedProcess:
    """The `leadml` command in its own process, as a user runs it."""
    return subprocess.run([sys.executable, "-c", "from leadml.cli import app; app()", *args], capture_output=True,
                          text=True, env={**os.environ, "LEADML_DATABASE_URL": url, "COLUMNS": "200"}, timeout=600)


def test_x_education_export_trains_the_service_like_evaluate(tmp_path):
    path = shared_data("x-education-leads", "Leads.csv")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    key = _leadml(url, "tenant", "create", "x-education").stdout.strip().splitlines()[-1]
    config_id = int(_leadml(url, "config", "create", "--tenant", "x-education", "--name", "export")
                    .stdout.strip().splitlines()[-1])
    imported = _leadml(url, "import", "leads", str(path), "--config", str(config_id), "--map", "externalId=Prospect ID",
                       "--outcome-column", "Converted", "--na-values", "Select")
    assert imported.returncode == 0, imported.stderr
    assert "9240 rows: 9240 stored (9240 created, 0 updated), 0 rejected" in imported.stderr
    assert "outcomes: 3561 converted, 5679 lost, 0 open" in imported.stderr
    trained = _leadml(url, "train", "--config", str(config_id), "--json")
    assert trained.returncode == 0, trained.stderr
    result = json.loads(trained.stdout)

    engine = db.make_engine(url)
    with db.transaction(db.make_session_factory(engine)) as session:
        version = model_store.active(session, config_id=config_id, kind="conversion")
        stored_auc, summary = version.metrics["auc"], version.training_summary
    assert result["conversion"]["metrics"]["auc"] == stored_auc
    assert summary["snapshotRows"]["undated"] == 9240 and summary["pointInTimeRows"] == 0
    assert summary["holdout"] == "stratified random" and summary["holdoutRows"] == 1848
    assert summary["holdoutPositives"] in (712, 713)  # stratified: 38.5 % of 1,848
    assert "Lead Number" in summary["droppedAttributes"]  # an identifier, as evaluate drops it
    assert not any(c.startswith("custom.Converted") for c in summary["columns"])

    report = evaluate_frame(load_table(path, na_values=["Select"]), target="Converted", exclude=["Tags"],
                            baselines=False)
    assert {"Prospect ID", "Lead Number"} <= set(report["dropped_columns"])
    assert sorted(f"custom.{c}" for c in report["features"]) == sorted(
        c for c in summary["columns"] if c.startswith("custom."))
    cv_auc, folds = report["conversion"]["auc"], report["split"]["auc"]
    print(f"\nX Education: service hold-out AUC {stored_auc:.4f}; evaluate 5-fold AUC {cv_auc:.4f} "
          f"(folds {', '.join(f'{a:.4f}' for a in folds)})")
    assert abs(stored_auc - cv_auc) <= 0.01
    assert min(folds) - 0.01 <= stored_auc <= max(folds) + 0.01

    # A lead added afterwards through the API is scored by the trained model.
    from fastapi.testclient import TestClient

    from leadml.api.app import create_app

    settings = Settings(database_url=url, data_dir=tmp_path / "var", session_secret="test-secret-0123456789abcdef0123456789")
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings, engine=engine)) as client:
        added = client.post(f"{BASE}/{config_id}/leads", headers=headers, json={"leads": [{
            "externalId": "new-web-lead", "attributes": {
                "Lead Origin": "Lead Add Form", "Lead Source": "Reference", "Do Not Email": "No",
                "TotalVisits": 3, "Total Time Spent on Website": 1200, "Page Views Per Visit": 3,
                "Last Activity": "SMS Sent", "What is your current occupation": "Working Professional"}}]})
        assert added.status_code == 200, added.text
        lead_id = added.json()["leads"][0]["id"]
        predicted = client.post(f"{BASE}/leads/{lead_id}/ml/predict", json={}, headers=headers)
        assert predicted.status_code == 200, predicted.text
        prediction = predicted.json()["prediction"]
        assert prediction["source"] == "model" and prediction["modelVersion"] == result["conversion"]["version"]
        assert prediction["probability"] > 0.5  # a working professional from the lead add form
    engine.dispose()


@pytest.fixture
def x_education_frame():
    import pandas as pd

    frame = pd.read_csv(shared_data("x-education-leads", "Leads.csv"), na_values=["Select"])
    return frame


def test_the_import_warns_about_x_educations_tags(x_education_frame):
    from leadml.ingest.leakage import near_perfect_predictors

    frame = x_education_frame
    converted = frame.pop("Converted").tolist()
    columns = {c: [None if v != v else v for v in frame[c].tolist()] for c in frame.columns}
    found = {w["column"]: w for w in near_perfect_predictors(columns, converted)}
    assert set(found) == {"Tags"}, found  # filled in by the sales team after contact
    assert "Closed by Horizzon" in found["Tags"]["reason"] or "Ringing" in found["Tags"]["reason"]
