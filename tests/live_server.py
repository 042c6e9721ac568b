"""Real server processes for tests: `leadml serve` in a subprocess, killed with SIGKILL or stopped politely,
and fresh databases (a SQLite file, or a new PostgreSQL database) for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

SRC = str(Path(__file__).resolve().parents[1] / "src")
POSTGRES_URL = os.environ.get("LEADML_TEST_POSTGRES_URL")


def env_for(database_url: str, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, "LEADML_DATABASE_URL": database_url, "LEADML_DATA_DIR": str(data_dir),
            "LEADML_SESSION_SECRET": "live-server-test-secret-of-at-least-32-chars", "LEADML_MIN_CONVERTED": "5", "LEADML_MIN_LOST": "5"}


def leadml(args: list[str], database_url: str, data_dir: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """The CLI in a fresh process (`python -m leadml.cli`-style through its Typer app)."""
    done = subprocess.run([sys.executable, "-c", "from leadml.cli import app; app()", *args], capture_output=True,
                          text=True, env=env_for(database_url, data_dir), timeout=timeout)
    assert done.returncode == 0, f"leadml {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`leadml serve` on loopback in its own process; `url` once it answers /health."""

    def __init__(self, database_url: str, data_dir: Path, log: Path) -> None:
        self.database_url, self.data_dir, self.log_path = database_url, data_dir, log
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 60) -> ServerProcess:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from leadml.cli import app; app()", "serve", "--host", "127.0.0.1", "--port",
             str(port)], env=env_for(self.database_url, self.data_dir), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"server did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        """kill -9: no shutdown hooks, no flush, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._reap()

    def _reap(self) -> None:
        if self.process is not None:
            self.process.wait()
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None


def new_database(kind: str, directory: Path):
    """(url, drop) of a fresh, empty database: a SQLite file in `directory`, or a new PostgreSQL database.
    The server (or the CLI) migrates it when it starts."""
    if kind == "sqlite":
        return f"sqlite:///{directory / 'leadml.db'}", lambda: None
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not started: run the tests with scripts/test.sh (it starts a throw-away server)")
    name = f"leadml_live_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name, drop


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    url, drop = new_database(request.param, tmp_path)
    yield url
    drop()


class Servers:
    """Starts servers on one database; every one still running is killed at the end."""

    def __init__(self, database_url: str, directory: Path) -> None:
        self.database_url, self.directory = database_url, directory
        self.started: list[ServerProcess] = []

    def start(self) -> ServerProcess:
        server = ServerProcess(self.database_url, self.directory / "var", self.directory / "server.log").start()
        self.started.append(server)
        return server

    def close(self) -> None:
        for server in self.started:
            server.kill()
