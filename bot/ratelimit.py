"""How many requests one client (an IP, a Slack user) may make a minute: a sliding window in this
process's memory, shared by the web API's and Slack's limits."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0


class SlidingWindow:
    """At most `per_minute` requests per key in any 60 seconds: a log of each key's recent request times
    (exact, and small: at most `per_minute` times per key seen in the last minute)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()  # web routes and Slack listeners run in thread pools
        self._swept: float | None = None  # when quiet keys were last forgotten

    def wait(self, key: str) -> float:
        """0 and the request is counted, or the seconds until this key may send the next one."""
        now = self.clock()
        with self._lock:
            if self._swept is None or now - self._swept > WINDOW_SECONDS:  # keep memory bounded
                self._seen = {k: t for k, t in self._seen.items() if t and t[-1] > now - WINDOW_SECONDS}
                self._swept = now
            times = self._seen.setdefault(key, deque())
            while times and times[0] <= now - WINDOW_SECONDS:
                times.popleft()
            if len(times) >= self.per_minute:
                return times[0] + WINDOW_SECONDS - now
            times.append(now)
            return 0.0
