"""Peak memory of one call, for the decompression-bomb tests (issue 13): Linux's peak resident
set size (VmHWM), reset through /proc/self/clear_refs before the call. Pillow and pypdf allocate
outside Python's allocator, so tracemalloc would not see a decoded picture; the RSS does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} is not in /proc/self/status")


def peak_growth_mib(call: Callable[[], Any]) -> float:
    """How far the process's resident memory rose above its level before `call` (MiB)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM to the current RSS
    before = _status_kib("VmRSS")
    try:
        call()
    finally:
        peak = _status_kib("VmHWM")
    return (peak - before) / 1024
