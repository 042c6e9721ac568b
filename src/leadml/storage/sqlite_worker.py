"""Worker processes for database drivers that carry their own copy of SQLite (ADBC).

Two SQLite libraries must never open the same database file in one process: POSIX advisory locks
belong to the process, so neither library sees the other's, and when the second one closes its
last connection it deletes the `-wal`/`-shm` files under the first one's open connection (later
commits then go to an unlinked file and are lost). The service's own connections use Python's
`sqlite3`; every ADBC connection lives here instead, in a child process (`python -m
leadml.storage.sqlite_worker`) that runs one call at a time and hands frames back as Arrow IPC.
Between processes SQLite's locking and WAL index work as designed.

`call("module:function", *args)` runs a module-level function in an idle worker (at most
`MAX_WORKERS` of them; a caller waits for one when all are busy) and returns its result: a polars
DataFrame travels as Arrow IPC bytes, anything else pickled. An exception in the worker is raised
again in the caller (leadml's domain errors keep their class and details). A function that accepts
`progress` may report through it; the caller's `progress` receives the same arguments.

Workers stay up for `IDLE_SECONDS` after their last call (starting one costs about a second of
imports), die with their parent (PR_SET_PDEATHSIG, and end of input), and are stopped at exit.
"""

from __future__ import annotations

import atexit
import importlib
import io
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_WORKERS = 2
IDLE_SECONDS = 60.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the directory holding the leadml package


class WorkerError(RuntimeError):
    """An error raised in a worker that could not travel back as itself."""


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "leadml.storage.sqlite_worker", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
        )
        self.idle_since = time.monotonic()

    def call(self, target: str, args: tuple, kwargs: dict, progress: Callable[..., None] | None) -> Any:
        try:
            pickle.dump((target, args, kwargs, progress is not None), self.process.stdin, protocol=5)
            self.process.stdin.flush()
            while True:
                kind, payload = pickle.load(self.process.stdout)
                if kind == "progress":
                    progress(*payload)
                    continue
                break
        except (EOFError, BrokenPipeError, OSError) as exc:
            self.stop()
            raise WorkerError(f"the SQLite worker process stopped (exit code {self.process.poll()})") from exc
        if kind == "frame":
            import polars as pl

            return pl.read_ipc(io.BytesIO(payload))
        if kind == "error":
            raise _rebuild(payload)
        return payload

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class _Pool:
    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._live = 0
        self._condition = threading.Condition()
        self._reaper: threading.Thread | None = None
        self._pid = os.getpid()

    def _acquire(self) -> _Worker:
        with self._condition:
            if self._pid != os.getpid():  # a forked child must not share its parent's pipes
                self._idle, self._live, self._pid = [], 0, os.getpid()
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    self._live -= 1
                if self._live < MAX_WORKERS:
                    self._live += 1
                    break
                self._condition.wait()
        try:
            return _Worker()
        except BaseException:
            with self._condition:
                self._live -= 1
                self._condition.notify()
            raise

    def _release(self, worker: _Worker) -> None:
        with self._condition:
            if worker.alive():
                worker.idle_since = time.monotonic()
                self._idle.append(worker)
            else:
                self._live -= 1
            self._condition.notify()
            if self._reaper is None or not self._reaper.is_alive():
                self._reaper = threading.Thread(target=self._reap, name="sqlite-worker-reaper", daemon=True)
                self._reaper.start()

    def _reap(self) -> None:
        while True:
            time.sleep(min(IDLE_SECONDS, 5.0))
            with self._condition:
                now = time.monotonic()
                stale = [w for w in self._idle if now - w.idle_since >= IDLE_SECONDS]
                self._idle = [w for w in self._idle if w not in stale]
                self._live -= len(stale)
                remaining = self._live
            for worker in stale:
                worker.stop()
            if remaining == 0:
                return

    def call(self, target: str, *args, progress: Callable[..., None] | None = None, **kwargs) -> Any:
        worker = self._acquire()
        try:
            return worker.call(target, args, kwargs, progress)
        finally:
            self._release(worker)

    def stop_all(self) -> None:
        with self._condition:
            idle, self._idle = self._idle, []
            self._live -= len(idle)
        for worker in idle:
            worker.stop()


_POOL = _Pool()
atexit.register(_POOL.stop_all)


def call(target: str, *args, progress: Callable[..., None] | None = None, **kwargs) -> Any:
    """Run `target` ("package.module:function") with these arguments in a worker process."""
    return _POOL.call(target, *args, progress=progress, **kwargs)


def stop_workers() -> None:
    """Stop the idle workers now (they are started again when needed)."""
    _POOL.stop_all()


def _describe(exc: BaseException) -> tuple:
    from leadml.errors import LeadMLError

    if isinstance(exc, LeadMLError):
        return ("leadml", type(exc).__name__, exc.message, exc.details)
    try:
        data = pickle.dumps(exc)
        pickle.loads(data)
        return ("pickled", data)
    except Exception:  # noqa: BLE001 - anything that does not survive pickling travels as text
        return ("text", type(exc).__name__, str(exc))


def _rebuild(payload: tuple) -> BaseException:
    if payload[0] == "leadml":
        from leadml import errors

        _, name, message, details = payload
        return getattr(errors, name, errors.LeadMLError)(message, details=details)
    if payload[0] == "pickled":
        return pickle.loads(payload[1])
    return WorkerError(f"{payload[1]}: {payload[2]}")


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


def _serve() -> None:
    """The worker's loop: one pickled request in, one pickled answer out, until end of input."""
    _die_with_parent(int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid())
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the answer stream

    def send(kind: str, payload: Any) -> None:
        pickle.dump((kind, payload), answers, protocol=5)
        answers.flush()

    while True:
        try:
            target, args, kwargs, wants_progress = pickle.load(requests)
        except EOFError:
            return
        try:
            module, function = target.split(":")
            if wants_progress:
                kwargs["progress"] = lambda *values: send("progress", values)
            result = getattr(importlib.import_module(module), function)(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
            send("error", _describe(exc))
            continue
        if type(result).__module__.startswith("polars") and type(result).__name__ == "DataFrame":
            buffer = io.BytesIO()
            result.write_ipc(buffer)
            send("frame", buffer.getvalue())
        else:
            send("result", result)


if __name__ == "__main__":
    _serve()
