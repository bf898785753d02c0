"""Who may use the admin API (and read internal documents): the bearer token PRAKTIKBOT_ADMIN_TOKEN,
compared in constant time, with a growing pause for a client that keeps guessing."""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.web.deps import RuntimeDep

DISABLED = ("Admin-API er slået fra: sæt PRAKTIKBOT_ADMIN_TOKEN og genstart serveren "
            "(admin API disabled: set PRAKTIKBOT_ADMIN_TOKEN and restart the server)")
bearer = HTTPBearer(auto_error=False, description="PRAKTIKBOT_ADMIN_TOKEN")


@dataclass
class _Strikes:
    failures: deque[float] = field(default_factory=deque)
    pauses: int = 0
    blocked_until: float = 0.0


class TokenBackoff:
    """Makes guessing the admin token slow: after FAILURES wrong tokens within WINDOW seconds a client
    is refused (429) for FIRST_PAUSE seconds, twice as long each time it happens again; the right
    token after a pause clears the record."""

    FAILURES, WINDOW, FIRST_PAUSE, LONGEST_PAUSE = 5, 60.0, 30.0, 3600.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._clients: dict[str, _Strikes] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds this client must still wait; 0 when it may try."""
        with self._lock:
            strikes = self._clients.get(client)
            left = strikes.blocked_until - self.clock() if strikes else 0.0
        return max(0, math.ceil(left))

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            strikes = self._clients.setdefault(client, _Strikes())
            strikes.failures.append(now)
            while strikes.failures[0] < now - self.WINDOW:
                strikes.failures.popleft()
            if len(strikes.failures) >= self.FAILURES:
                pause = min(self.FIRST_PAUSE * 2 ** strikes.pauses, self.LONGEST_PAUSE)
                strikes.pauses += 1
                strikes.blocked_until = now + pause
                strikes.failures.clear()
            # forget clients quiet for a day, so the record can't grow without end
            for key in [k for k, s in self._clients.items()
                        if max(s.blocked_until, s.failures[-1] if s.failures else 0) < now - 86400]:
                del self._clients[key]

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)


def require_admin(request: Request, rt: RuntimeDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    token = rt.settings.admin_token
    if not token:
        raise HTTPException(503, DISABLED)
    backoff, client = request.app.state.admin_backoff, request.client.host if request.client else "?"
    if wait := backoff.retry_after(client):
        raise HTTPException(429, f"for mange forkerte admin-tokens; prøv igen om {wait} sekunder "
                                 f"(too many wrong admin tokens; retry in {wait} s)",
                            headers={"Retry-After": str(wait)})
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        if given:  # a guess; a request without a token guesses nothing
            backoff.failed(client)
        raise HTTPException(401, "manglende eller forkert admin-token (missing or wrong admin token)",
                            headers={"WWW-Authenticate": "Bearer"})
    backoff.succeeded(client)
