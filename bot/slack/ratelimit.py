"""Questions per Slack user a minute, counted in this process's memory (a sliding window).

Over the limit a user is told once to wait; further questions in the same burst are dropped without
another message, so a flood of questions doesn't become a flood of replies."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from bot.ratelimit import SlidingWindow


class Verdict(enum.Enum):
    ALLOW = "allow"
    REFUSE = "refuse"  # over the limit: tell the user
    REFUSE_QUIETLY = "refuse quietly"  # over the limit, and already told


class RateLimit(SlidingWindow):
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(per_minute, clock)
        self._told: set[str] = set()

    def check(self, key: str) -> Verdict:
        """Count one question by `key` if it is within the limit."""
        if self.wait(key) == 0:
            self._told.discard(key)
            return Verdict.ALLOW
        with self._lock:
            if key in self._told:
                return Verdict.REFUSE_QUIETLY
            self._told.add(key)
            return Verdict.REFUSE
