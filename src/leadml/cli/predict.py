"""Predict from the command line, through the same use case as the API."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from leadml import db, errors
from leadml.cli import app
from leadml.cli.admin import fail
from leadml.cli.common import open_database, out
from leadml.scoring import predict as scoring


@app.command()
def predict(
    lead: Annotated[int, typer.Option("--lead", help="Lead id")],
    type_: Annotated[str, typer.Option("--type", help="CONVERSION, TIME_TO_CLOSE, SCORE or PRIORITY")] = "CONVERSION",
    force_refresh: bool = False,
    rule_based_only: bool = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the prediction document as JSON")] = False,
) -> None:
    """Predict one lead (reusing a still-valid stored prediction unless --force-refresh)."""
    database = open_database()
    from leadml.scoring.llm_client import LlmService
    from leadml.scoring.models import ModelLoader

    try:
        with db.transaction(database.sessions) as session:
            outcome = scoring.predict_lead(session, tenant_id=None, lead_id=lead, prediction_type=type_.upper(),
                                           force_refresh=force_refresh, rule_based_only=rule_based_only,
                                           model_loader=ModelLoader(),
                                           llm_service=LlmService.from_settings(database.settings))
            doc = outcome.document
    except errors.LeadMLError as exc:
        fail(exc)
    if as_json:
        out.print_json(json.dumps({"prediction": doc, "cached": outcome.cached}))
        return
    table = Table(title=f"lead {lead}: {doc['predictionType']} ({doc['source']}{' , cached' if outcome.cached else ''})")
    table.add_column("field")
    table.add_column("value")
    table.add_row("probability", f"{doc['probability']:.1%}  (confidence {doc['confidence']:.2f})")
    table.add_row("level / score", f"{doc['predictedScoreLevel']} / {doc['predictedScore']}")
    table.add_row("days to close", f"{doc['predictedDays']} ({doc['confidenceInterval']['low']}-{doc['confidenceInterval']['high']})")
    table.add_row("priority", f"{doc['priorityTier']} ({doc['priorityScore']})")
    table.add_row("risks", "\n".join(f"{r['impact']}: {r['factor']}" for r in doc["riskFactors"]) or "-")
    table.add_row("next actions", "\n".join(f"{r['priority']}: {r['action']}" for r in doc["recommendations"]) or "-")
    out.print(table)
    out.print(doc["explanation"])
