"""Single-writer rules for the index.

- `writer_lock`: held for the length of one ingest; a second ingest at the same time is refused.
- `serving_lock`: held by a serving process for its lifetime when Chroma is embedded. Embedded Chroma
  is not safe with two writer processes, so while a server runs, re-ingest goes through it
  (admin API or Slack), and `praktikbot ingest` from another process is refused with that advice.
The locks are `flock`s: the kernel releases them when a process dies, even by kill -9."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path


class IndexBusyError(RuntimeError):
    """Another process is writing the index (or owns it); the message says which and what to do."""


def _try_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        return None, holder
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle, None


@contextmanager
def _held(path: Path, refusal: str) -> Iterator[None]:
    """Hold the lock at `path` for the block; `refusal` (with {pid}) explains a held one."""
    handle, holder = _try_lock(path)
    if handle is None:
        raise IndexBusyError(refusal.format(pid=holder))
    try:
        yield
    finally:
        handle.close()


def writer_lock(data_dir: Path) -> AbstractContextManager[None]:
    return _held(data_dir / ".ingest.lock",
                 "en anden indlæsning kører allerede (proces {pid}); prøv igen, når den er færdig "
                 "(another ingest is running)")


def serving_pid(data_dir: Path) -> str | None:
    """The pid of a server that owns the embedded index, or None when no server holds it."""
    handle, holder = _try_lock(data_dir / ".serve.lock")
    if handle is None:
        return holder
    handle.close()
    return None


def serving_lock(data_dir: Path) -> AbstractContextManager[None]:
    return _held(data_dir / ".serve.lock",
                 "en anden Praktikbot-server (proces {pid}) bruger allerede det indlejrede indeks i "
                 f"{data_dir}; stop den eller brug PRAKTIKBOT_CHROMA_URL (another server owns this index)")
