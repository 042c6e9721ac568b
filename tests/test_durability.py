"""Nothing acknowledged is lost: bulk paths beside ordinary sessions, jobs after a crash, batches after kill -9.

The guard test runs every bulk path (synthetic load, feature frames, training, and bulk scoring once it
exists: add it to BULK_PATHS) in the same process as ordinary sessions, then checks from a fresh process
that every row written before and after is there, and that SQLite's -wal/-shm files still exist while
this process holds its connection. A driver that carries its own copy of SQLite (ADBC) deletes them
under the sqlite3 connection when it closes in the same process; that is the bug this guards against.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from live_server import Servers, database_url, leadml  # noqa: F401 - database_url is a fixture
from sqlalchemy import func, select, text

from leadml import db
from leadml.storage import bulk, configs, tenants
from leadml.storage.tables import Activity, Lead, ModelVersion, Tenant
from leadml.synth import generate_funnel

SRC = str(Path(__file__).resolve().parents[1] / "src")
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def fresh_process_counts(url: str, tenant_names: list[str]) -> dict:
    """Row counts as another process sees them (a new interpreter, a new connection)."""
    code = """
import json, sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1])
names = json.loads(sys.argv[2])
with engine.connect() as c:
    counts = {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar()
              for t in ("leads", "activities", "model_versions", "jobs", "predictions")}
    counts["tenants"] = sorted(r[0] for r in c.execute(text("SELECT name FROM tenants")) if r[0] in names)
print(json.dumps(counts))
"""
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run([sys.executable, "-c", code, url, json.dumps(tenant_names)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _synthetic_load(ctx: dict) -> None:
    counts = bulk.insert_funnel(ctx["engine"], generate_funnel(1500, seed=5, now=NOW), tenant_id=ctx["tenant_id"],
                                config_id=ctx["config_id"])
    ctx["leads"] += counts["leads"]
    ctx["activities"] += counts["activities"]


def _feature_frames(ctx: dict) -> None:
    from leadml.storage.feature_frames import compute_features_for_config, iter_activity_frames, load_lead_frame

    frames = list(compute_features_for_config(ctx["engine"], config_id=ctx["config_id"], as_of=NOW, timezone="UTC",
                                              chunk_leads=500))
    assert sum(f.height for f in frames) == ctx["leads"]
    assert load_lead_frame(ctx["engine"], config_id=ctx["config_id"]).height == ctx["leads"]
    assert sum(f.height for _, f in iter_activity_frames(ctx["engine"], config_id=ctx["config_id"],
                                                         chunk_leads=700)) == ctx["activities"]


def _training(ctx: dict) -> None:
    from leadml.scoring.training import TrainingOptions, train_config

    result = train_config(ctx["engine"], ctx["sessions"], config_id=ctx["config_id"], now=NOW,
                          options=TrainingOptions(min_converted=5, min_lost=5))
    assert result["conversion"]["version"] >= 1
    ctx["models"] = ctx.get("models", 0) + 1 + (1 if "version" in (result.get("timeToClose") or {}) else 0)


# Every bulk path, in the order a user meets them. Bulk scoring (issue #9) joins this list when it lands.
BULK_PATHS: list[tuple[str, Callable[[dict], None]]] = [
    ("synthetic load", _synthetic_load),
    ("feature frames", _feature_frames),
    ("training", _training),
]


def _wal_files(engine) -> list[Path]:
    path = Path(engine.url.database)
    return [Path(f"{path}-wal"), Path(f"{path}-shm")]


def test_bulk_paths_beside_ordinary_sessions_lose_nothing(engine):
    sessions = db.make_session_factory(engine)
    with db.transaction(sessions) as session:
        tenant, _key = tenants.create_tenant(session, name="before")
        config = configs.create_config(session, tenant_id=tenant.id, values={"name": "funnel"})
        ctx = {"engine": engine, "sessions": sessions, "tenant_id": tenant.id, "config_id": config.id,
               "leads": 0, "activities": 0}
    # An ordinary connection held open throughout, as the API's pool holds one.
    with engine.connect() as held:
        assert held.execute(select(func.count()).select_from(Tenant)).scalar() == 1
        names = ["before"]
        for name, path in BULK_PATHS:
            path(ctx)
            label = f"after {name}"
            with db.transaction(sessions) as session:  # an ordinary write after each bulk path
                tenants.create_tenant(session, name=label)
            names.append(label)
            if engine.dialect.name == "sqlite":
                missing = [p.name for p in _wal_files(engine) if not p.exists()]
                assert not missing, f"{missing} deleted under the open connection by the {name} path"
        held.execute(text("SELECT 1"))
        with db.transaction(sessions) as session:
            tenants.create_tenant(session, name="last")
        names.append("last")
        seen = fresh_process_counts(engine.url.render_as_string(hide_password=False), names)
        if engine.dialect.name == "sqlite":
            assert all(p.exists() for p in _wal_files(engine))
    assert seen["tenants"] == sorted(names)
    assert seen["leads"] == ctx["leads"] and seen["activities"] == ctx["activities"]
    assert seen["model_versions"] == ctx["models"] >= 1
    with db.transaction(sessions) as session:  # and this process still reads and writes
        assert session.scalar(select(func.count()).select_from(Lead)) == ctx["leads"]
        assert session.scalar(select(func.count()).select_from(Activity)) == ctx["activities"]
        assert session.scalar(select(func.count()).select_from(ModelVersion)) == ctx["models"]


def test_the_sqlite_driver_bug_this_guards_against(tmp_path):
    """Documents the cause: ADBC's own SQLite, closed in this process, deletes the WAL under sqlite3.

    If this ever stops reproducing (the drivers share one SQLite), the guard above still stands."""
    adbc = pytest.importorskip("adbc_driver_sqlite.dbapi")
    path = tmp_path / "two-libraries.db"
    code = f"""
import sqlite3, os, adbc_driver_sqlite.dbapi as adbc
a = sqlite3.connect({str(path)!r}); a.execute("PRAGMA journal_mode=WAL"); a.execute("CREATE TABLE t (x)")
a.execute("INSERT INTO t VALUES (1)"); a.commit()
b = adbc.connect({str(path)!r}); cur = b.cursor(); cur.execute("SELECT count(*) FROM t"); cur.fetchall()
cur.close(); b.close()
print(os.path.exists({str(path)!r} + "-wal"))
"""
    assert adbc is not None
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"  # the driver removed the -wal file under the open sqlite3 connection


def test_a_reader_process_leaves_this_process_s_wal_alone(sqlite_engine):
    """Reads through the worker process see committed rows and leave -wal/-shm in place."""
    from leadml.storage.feature_frames import load_lead_frame

    sessions = db.make_session_factory(sqlite_engine)
    with db.transaction(sessions) as session:
        tenant, _ = tenants.create_tenant(session, name="t")
        config = configs.create_config(session, tenant_id=tenant.id, values={"name": "c"})
        config_id, tenant_id = config.id, tenant.id
    with sqlite_engine.connect() as held:
        for round_ in range(3):
            with db.transaction(sessions) as session:
                session.execute(text(
                    "INSERT INTO leads (tenant_id, config_id, external_id, tags, attributes, created_at, updated_at,"
                    " is_active, sequence_active, outcome_status) VALUES (:t, :c, :e, '[]', '{}', 0, 0, 1, 0, 'open')"
                ), {"t": tenant_id, "c": config_id, "e": f"L{round_}"})
            assert load_lead_frame(sqlite_engine, config_id=config_id).height == round_ + 1
            assert all(p.exists() for p in _wal_files(sqlite_engine))
        held.execute(text("SELECT 1"))
    raw = sqlite3.connect(sqlite_engine.url.database)
    assert raw.execute("SELECT count(*) FROM leads").fetchone()[0] == 3
    raw.close()


# --- a real server killed with SIGKILL in the middle of a stream of batch imports ---------------------

LEADS_PER_BATCH = 300


def _lead_batch(batch: int) -> dict:
    return {"leads": [{"externalId": f"B{batch}-{i}", "email": f"b{batch}.{i}@example.com", "title": "Director",
                       "company": f"Company {i % 37}", "attributes": {"batch": batch}}
                      for i in range(LEADS_PER_BATCH)]}


def _activity_batch(batch: int) -> dict:
    return {"activities": [{"leadExternalId": f"B{batch}-{i}", "type": "page_view", "eventId": f"E{batch}-{i}-{k}",
                            "occurredAt": f"2026-01-{1 + k:02d}T10:00:00Z"}
                           for i in range(LEADS_PER_BATCH) for k in range(3)]}


def test_batches_answered_200_survive_kill_9(database_url, tmp_path):
    import threading
    import time

    import httpx

    servers = Servers(database_url, tmp_path)
    try:
        server = servers.start()
        # A tenant created from the CLI, in another process, while the server runs: the server must see it.
        key = leadml(["tenant", "create", "stream"], database_url, tmp_path / "var").stdout.strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            created = client.post("/api/lead-scoring/configs", json={"name": "stream"})
            assert created.status_code == 201 or created.status_code == 200, created.text
            config_id = created.json()["id"]
        acknowledged: dict[str, list[int]] = {"leads": [], "activities": []}
        sent: dict[str, list[int]] = {"leads": [], "activities": []}
        stop = threading.Event()

        def stream() -> None:
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
                for batch in range(10_000):
                    if stop.is_set():
                        return
                    for kind, body in (("leads", _lead_batch(batch)), ("activities", _activity_batch(batch))):
                        sent[kind].append(batch)
                        try:
                            response = client.post(f"/api/lead-scoring/{config_id}/{kind}", json=body)
                        except httpx.HTTPError:
                            return  # the server is gone mid-request
                        if response.status_code != 200:
                            return
                        acknowledged[kind].append(batch)

        thread = threading.Thread(target=stream, daemon=True)
        thread.start()
        deadline = time.monotonic() + 120
        while len(acknowledged["activities"]) < 8 and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.01)
        server.kill()  # while the client is sending the next batch
        stop.set()
        thread.join(timeout=60)
        assert len(acknowledged["activities"]) >= 8, (acknowledged, server.log())

        server = servers.start()  # restart: recovery, migrations, then count through a fresh process
        seen = _rows_by_batch(database_url, config_id)
        for kind, per_batch in (("leads", LEADS_PER_BATCH), ("activities", 3 * LEADS_PER_BATCH)):
            for batch in acknowledged[kind]:
                assert seen[kind].get(batch) == per_batch, f"{kind} batch {batch} was answered 200 but is not all there"
            for batch, count in seen[kind].items():
                assert batch in sent[kind] and count == per_batch, f"{kind} batch {batch}: {count} rows (half a batch)"
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:  # and it serves on
            assert client.post(f"/api/lead-scoring/{config_id}/leads", json=_lead_batch(99_999)).status_code == 200
        server.stop()
    finally:
        servers.close()


def _rows_by_batch(url: str, config_id: int) -> dict[str, dict[int, int]]:
    code = """
import json, sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1])
out = {}
with engine.connect() as c:
    for kind, sql in (("leads", "SELECT external_id FROM leads WHERE config_id = :c"),
                      ("activities", "SELECT event_id FROM activities WHERE config_id = :c")):
        counts = {}
        for (name,) in c.execute(text(sql), {"c": int(sys.argv[2])}):
            batch = int(name[1:].split("-")[0])
            counts[batch] = counts.get(batch, 0) + 1
        out[kind] = counts
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code, url, str(config_id)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC}, timeout=120)
    assert done.returncode == 0, done.stderr
    return {kind: {int(b): n for b, n in counts.items()} for kind, counts in json.loads(done.stdout).items()}


# --- jobs whose worker process died -------------------------------------------------------------------

def _dead_worker() -> str:
    """The identity of a process that really ran and has exited (as a killed server's would be)."""
    from leadml.jobs import liveness

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    with open(f"/proc/{child.pid}/stat") as f:
        stat = f.read()
    start = stat[stat.rindex(")") + 2:].split()[19]
    host, boot, _pid, _start = liveness.identity().rsplit(":", 3)
    worker = f"{host}:{boot}:{child.pid}:{start}"
    assert liveness.worker_alive(worker, None)
    child.kill()
    child.wait()
    assert not liveness.worker_alive(worker, None)
    return worker


def test_jobs_of_a_dead_worker_are_closed_cancelled_and_never_block(engine):
    from leadml.jobs import liveness, runner
    from leadml.storage import jobs as job_store
    from leadml.storage.tables import Job

    sessions = db.make_session_factory(engine)
    dead = _dead_worker()
    with db.transaction(sessions) as session:
        tenant, _ = tenants.create_tenant(session, name="jobs")
        config_ids = [configs.create_config(session, tenant_id=tenant.id, values={"name": f"c{i}"}).id
                      for i in range(3)]
        jobs = {}
        for status, config_id in zip(("running", "cancelling", "queued"), config_ids, strict=True):
            job = job_store.create_job(session, tenant_id=tenant.id, config_id=config_id, kind="train")
            job.status, job.worker = status, dead
            jobs[status] = job.id
        live = job_store.create_job(session, tenant_id=tenant.id, config_id=config_ids[0], kind="bulk_predict")
        live_id = live.id
        live.status = "running"
        assert live.worker == liveness.identity()
    # Cancelling a job whose worker is gone cancels it at once (no one would ever acknowledge it).
    with db.transaction(sessions) as session:
        assert runner.cancel(session, session.get(Job, jobs["queued"])).status == "cancelled"
    assert sorted(runner.recover(sessions)) == sorted([jobs["running"], jobs["cancelling"]])
    with db.transaction(sessions) as session:
        running, cancelling = session.get(Job, jobs["running"]), session.get(Job, jobs["cancelling"])
        assert running.status == "failed" and "stopped before it finished" in running.error
        assert running.finished_at is not None
        assert cancelling.status == "cancelled"
        assert session.get(Job, live_id).status == "running"  # this process is alive: left alone
        # A live job still blocks a second one of its kind; a new train job for config 0 is accepted.
        with pytest.raises(Exception, match="already running"):
            job_store.create_job(session, tenant_id=tenant.id, config_id=config_ids[0], kind="bulk_predict")
        job_store.create_job(session, tenant_id=tenant.id, config_id=config_ids[0], kind="train")
    # A dead worker's job met by create_job (before any recovery ran) is closed, not a 409.
    with db.transaction(sessions) as session:
        job = session.get(Job, live_id)
        job.worker = dead
    with db.transaction(sessions) as session:
        job_store.create_job(session, tenant_id=tenant.id, config_id=config_ids[0], kind="bulk_predict")
        assert session.get(Job, live_id).status == "failed"


def test_a_worker_on_another_machine_lives_by_its_heartbeat():
    from datetime import timedelta

    from leadml.jobs import liveness

    now = datetime(2026, 1, 1, tzinfo=UTC)
    other = "some-other-host:abc:123:456"
    assert liveness.worker_alive(other, now - timedelta(seconds=40), now=now)
    assert not liveness.worker_alive(other, now - liveness.HEARTBEAT_STALE - timedelta(seconds=1), now=now)
    assert not liveness.worker_alive(other, None, now=now)
    assert not liveness.worker_alive(None, now, now=now)
    assert liveness.worker_alive(liveness.identity(), None)
