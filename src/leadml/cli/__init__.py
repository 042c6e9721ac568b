"""The `leadml` command. Each submodule registers its commands on `app`; each is a few lines
calling the modules that do the work."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="leadml: self-hosted lead scoring")

# Importing the submodules registers their commands.
from leadml.cli import admin as _admin  # noqa: E402,F401
from leadml.cli import data as _data  # noqa: E402,F401
from leadml.cli import predict as _predict  # noqa: E402,F401
from leadml.cli import synth as _synth  # noqa: E402,F401
from leadml.cli import train as _train  # noqa: E402,F401
from leadml.cli import demo as _demo  # noqa: E402,F401
from leadml.cli import evaluate as _evaluate  # noqa: E402,F401
from leadml.cli import llm as _llm  # noqa: E402,F401
from leadml.cli import bulk as _bulk  # noqa: E402,F401
