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
from contextlib import contextmanager
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
def writer_lock(data_dir: Path) -> Iterator[None]:
    handle, holder = _try_lock(data_dir / ".ingest.lock")
    if handle is None:
        raise IndexBusyError(
            f"en anden indlæsning kører allerede (proces {holder}); prøv igen, når den er færdig "
            "(another ingest is running)"
        )
    try:
        yield
    finally:
        handle.close()


def serving_pid(data_dir: Path) -> str | None:
    """The pid of a server that owns the embedded index, or None when no server holds it."""
    handle, holder = _try_lock(data_dir / ".serve.lock")
    if handle is None:
        return holder
    handle.close()
    return None


@contextmanager
def serving_lock(data_dir: Path) -> Iterator[None]:
    handle, holder = _try_lock(data_dir / ".serve.lock")
    if handle is None:
        raise IndexBusyError(
            f"en anden Praktikbot-server (proces {holder}) bruger allerede det indlejrede indeks i "
            f"{data_dir}; stop den eller brug PRAKTIKBOT_CHROMA_URL (another server owns this index)"
        )
    try:
        yield
    finally:
        handle.close()
