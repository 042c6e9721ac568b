"""What every command needs: the settings, the database (migrated), a console."""

from __future__ import annotations

from dataclasses import dataclass

import typer
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from leadml import db, errors, migrate
from leadml.config import Settings, get_settings

console = Console(stderr=True)
out = Console()


@dataclass
class Database:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]


def open_database(settings: Settings | None = None) -> Database:
    settings = settings or get_settings()
    engine = db.make_engine(settings.database_url)
    migrate.upgrade(engine)
    return Database(settings=settings, engine=engine, sessions=db.make_session_factory(engine))


def fail(exc: errors.LeadMLError | str, code: int = 1) -> None:
    """An expected failure: one readable line on stderr and a non-zero exit code, no traceback."""
    message = exc if isinstance(exc, str) else exc.message
    console.print(f"[red]error[/red]: {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)
