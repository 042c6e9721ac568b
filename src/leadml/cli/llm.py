"""`leadml llm preview --lead ID`: print the exact LLM request for a lead without sending it."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated

import typer

from leadml import db, errors
from leadml.cli import app
from leadml.cli.admin import fail
from leadml.cli.common import console, open_database

llm_app = typer.Typer(no_args_is_help=True, help="The optional LLM: what it would be sent.")
app.add_typer(llm_app, name="llm")


class Mode(str, Enum):
    narrative = "narrative"
    predictor = "predictor"


@llm_app.command("preview")
def preview(
    lead: Annotated[int, typer.Option("--lead", help="Lead id")],
    mode: Annotated[Mode | None, typer.Option(help="Override the config's llmMode")] = None,
) -> None:
    """Print the exact request (URL, headers without the key, JSON body) a prediction of this lead would
    send to the LLM, under the current settings. Nothing is sent and nothing is stored."""
    from leadml.scoring.llm_client import LlmService
    from leadml.scoring.llm_preview import preview_lead
    from leadml.scoring.models import ModelLoader

    database = open_database()
    try:
        with db.transaction(database.sessions) as session:
            request = preview_lead(session, tenant_id=None, lead_id=lead,
                                   service=LlmService.from_settings(database.settings),
                                   model_loader=ModelLoader(), mode=mode.value if mode else None)
    except errors.LeadMLError as exc:
        fail(exc)
    if not request["llmEnabled"]:
        console.print("note: this lead's config has llmEnabled false, so nothing is sent today")
    typer.echo(json.dumps(request, indent=2, ensure_ascii=False))
