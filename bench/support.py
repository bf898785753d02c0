"""What the benchmarks share: a free local port, percentiles, and a description of the machine."""

from __future__ import annotations

import os
import platform
import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of `values` lie (nearest rank, no interpolation), rounded to 0.01."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * (len(ordered) - 1)))], 2)


def memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def machine() -> str:
    """Platform, CPU count, RAM and Python: figures differ too much between machines to read without it."""
    return (f"{platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
            f"{memory_bytes() / 2**30:.1f} GB RAM, Python {platform.python_version()}")
