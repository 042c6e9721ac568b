"""Administration: database, tenants, configs, serving."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from leadml import db, errors
from leadml.cli import app
from leadml.cli.common import console, open_database, out
from leadml.storage import configs, tenants

tenant_app = typer.Typer(no_args_is_help=True, help="Tenants and their API keys.")
config_app = typer.Typer(no_args_is_help=True, help="Scoring configurations.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(tenant_app, name="tenant")
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")


def fail(exc: errors.LeadMLError) -> None:
    console.print(f"[red]error[/red] ({exc.code}): {exc.message}")
    if exc.details:
        console.print(exc.details)
    raise typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the latest version."""
    database = open_database()
    console.print(f"schema is up to date ({database.engine.url.render_as_string(hide_password=True)})")


@tenant_app.command("create")
def tenant_create(name: str) -> None:
    """Create a tenant and print its API key (shown once; only a hash is stored)."""
    database = open_database()
    try:
        with db.transaction(database.sessions) as session:
            tenant, key = tenants.create_tenant(session, name=name)
            tenant_id = tenant.id
    except errors.LeadMLError as exc:
        fail(exc)
    console.print(f"tenant {name!r} created (id {tenant_id}); its API key, shown only once:")
    out.print(key, soft_wrap=True, highlight=False)


@tenant_app.command("key")
def tenant_key(name: str) -> None:
    """Issue another API key for an existing tenant."""
    database = open_database()
    try:
        with db.transaction(database.sessions) as session:
            key = tenants.create_api_key(session, tenant_id=tenants.get_tenant_by_name(session, name).id)
    except errors.LeadMLError as exc:
        fail(exc)
    out.print(key, soft_wrap=True, highlight=False)


@tenant_app.command("revoke-key")
def tenant_revoke_key(name: str, key: Annotated[str, typer.Argument(help="The key, or its first characters")]) -> None:
    """Revoke an API key (given in full or by its prefix); page sessions opened with it end too."""
    database = open_database()
    try:
        with db.transaction(database.sessions) as session:
            tenants.revoke_key(session, tenant_id=tenants.get_tenant_by_name(session, name).id, key=key)
    except errors.LeadMLError as exc:
        fail(exc)
    console.print("key revoked; its page sessions are signed out")


@tenant_app.command("keys")
def tenant_keys(name: str) -> None:
    """List a tenant's keys by prefix (the keys themselves are never stored)."""
    database = open_database()
    try:
        with db.transaction(database.sessions) as session:
            rows = tenants.list_keys(session, tenant_id=tenants.get_tenant_by_name(session, name).id)
            listing = [{"prefix": k.prefix, "createdAt": k.created_at.isoformat(), "revoked": k.revoked} for k in rows]
    except errors.LeadMLError as exc:
        fail(exc)
    out.print_json(json.dumps(listing))


@config_app.command("create")
def config_create(
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    name: Annotated[str, typer.Option(help="Config name")],
    timezone: str = "UTC",
    horizon_days: int = 90,
    hot: float = 80,
    warm: float = 50,
    cold: float = 20,
) -> None:
    """Create a scoring config and print its id."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(timezone)
    except Exception:
        fail(errors.InvalidInput(f"unknown IANA timezone {timezone!r}"))
    database = open_database()
    try:
        with db.transaction(database.sessions) as session:
            tenant_row = tenants.get_tenant_by_name(session, tenant)
            config = configs.create_config(session, tenant_id=tenant_row.id, values={
                "name": name, "timezone": timezone, "horizon_days": horizon_days,
                "hot_threshold": hot, "warm_threshold": warm, "cold_threshold": cold,
            })
            config_id = config.id
    except errors.LeadMLError as exc:
        fail(exc)
    console.print(f"config {name!r} created for tenant {tenant!r}; id:")
    out.print(config_id)


@config_app.command("list")
def config_list(tenant: Annotated[str, typer.Option(help="Tenant name")]) -> None:
    database = open_database()
    try:
        with db.transaction(database.sessions) as session:
            rows = configs.list_configs(session, tenant_id=tenants.get_tenant_by_name(session, tenant).id)
            listing = [{"id": c.id, "name": c.name, "timezone": c.timezone} for c in rows]
    except errors.LeadMLError as exc:
        fail(exc)
    out.print_json(json.dumps(listing))


@app.command()
def serve(host: str | None = None, port: int | None = None) -> None:
    """Serve the HTTP API (and the ML Insights page)."""
    import uvicorn

    from leadml.api.app import create_app

    database = open_database()
    # The bound host decides the session cookie's Secure flag (not Secure only on loopback).
    settings = database.settings.model_copy(update={"host": host}) if host else database.settings
    uvicorn.run(create_app(settings, engine=database.engine), host=settings.host,
                port=port or settings.port, log_level="info")
