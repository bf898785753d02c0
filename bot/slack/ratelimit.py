"""Questions per Slack user a minute, counted in this process's memory (a sliding window).

Over the limit a user is told once to wait; further questions in the same burst are dropped without
another message, so a flood of questions doesn't become a flood of replies."""

from __future__ import annotations

import enum
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0


class Verdict(enum.Enum):
    ALLOW = "allow"
    REFUSE = "refuse"  # over the limit: tell the user
    REFUSE_QUIETLY = "refuse quietly"  # over the limit, and already told


class RateLimit:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._asked: defaultdict[str, deque[float]] = defaultdict(deque)
        self._told: set[str] = set()
        self._lock = threading.Lock()  # bolt runs listeners in several threads

    def check(self, key: str) -> Verdict:
        """Count one question by `key` if it is within the limit."""
        now = self.clock()
        with self._lock:
            asked = self._asked[key]
            while asked and asked[0] <= now - WINDOW_SECONDS:
                asked.popleft()
            if len(asked) < self.per_minute:
                asked.append(now)
                self._told.discard(key)
                return Verdict.ALLOW
            if key in self._told:
                return Verdict.REFUSE_QUIETLY
            self._told.add(key)
            return Verdict.REFUSE
