"""Which process runs a job, and whether it still lives.

A job row records its worker as "host:boot:pid:start" (the machine's name, the first characters of
its boot id, the process id and the process's start time in clock ticks since boot). On the same
machine and boot, a worker lives while that process id exists with that start time (a reused
process id has another). A worker on another machine cannot be asked: it lives while its heartbeat
(refreshed by the running job) is younger than HEARTBEAT_STALE. Standard library only.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from functools import cache

HEARTBEAT_SECONDS = 30.0
HEARTBEAT_STALE = timedelta(minutes=10)


@cache
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip().replace("-", "")[:12]
    except OSError:
        return "-"


def _start_ticks(pid: int) -> str | None:
    """The process's start time since boot (field 22 of /proc/PID/stat); None when gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    if fields[0] in ("Z", "X"):  # exited, waiting to be reaped
        return None
    return fields[19]


def identity() -> str:
    """This process as a job's worker."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{_boot_id()}:{pid}:{_start_ticks(pid) or '-'}"


def worker_alive(worker: str | None, heartbeat_at: datetime | None, *, now: datetime | None = None) -> bool:
    """Whether the process named by `worker` (see identity()) may still be running the job."""
    if not worker:
        return False  # a job recorded before workers were (or by a process that never claimed it)
    try:
        host, boot, pid_text, start = worker.rsplit(":", 3)
        pid = int(pid_text)
    except ValueError:
        return False
    if host == socket.gethostname() and os.path.exists("/proc/self/stat"):
        if boot != _boot_id():
            return False  # the machine restarted since
        ticks = _start_ticks(pid)
        return ticks is not None and (start == "-" or ticks == start)
    if heartbeat_at is None:
        return False
    now = now or datetime.now(UTC)
    if heartbeat_at.tzinfo is None:
        heartbeat_at = heartbeat_at.replace(tzinfo=UTC)
    return now - heartbeat_at < HEARTBEAT_STALE
