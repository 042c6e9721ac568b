"""Per-tenant fairness for the job worker: tenants take turns.

Jobs wait in one queue per tenant; the worker takes the oldest job of the next tenant in rotation,
so a tenant that queued many jobs delays another tenant's job by at most one job, not by its whole
queue. Within a tenant, jobs run in the order they were submitted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Hashable
from typing import Any


class FairQueue:
    def __init__(self) -> None:
        self._queues: OrderedDict[Hashable, deque] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, group: Hashable, item: Any) -> None:
        with self._lock:
            self._queues.setdefault(group, deque()).append(item)

    def pop(self) -> Any:
        """The next item in round-robin order across groups (IndexError when empty)."""
        with self._lock:
            if not self._queues:
                raise IndexError("no queued jobs")
            group, queue = next(iter(self._queues.items()))
            item = queue.popleft()
            del self._queues[group]
            if queue:  # back of the rotation
                self._queues[group] = queue
            return item

    def __len__(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queues.values())
