"""Set-based passes on several connections at once (issue 16 point 3): PostgreSQL does a batch's
writes on one core while the worker mostly waits (bench/README.md), so a pass that takes its
batches under SKIP LOCKED runs them on `PARALLEL` connections."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import connection, connections

PARALLEL = 2


def in_parallel(work: Callable[[], int], *, workers: int = PARALLEL) -> int:
    """Run `work` on `workers` connections at once (each thread its own, closed at its end) and
    add up what they return; in the caller's thread alone inside a transaction (another
    connection would not see what the transaction wrote), when `workers` is 1, and off
    PostgreSQL (SQLite has one writer at a time)."""
    if workers < 2 or connection.in_atomic_block or connection.vendor != "postgresql":
        return work()

    def on_own_connection() -> int:
        try:
            return work()
        finally:
            connections.close_all()  # this thread's connections only

    with ThreadPoolExecutor(workers, thread_name_prefix="pass") as pool:
        futures = [pool.submit(on_own_connection) for _ in range(workers)]
        return sum(future.result() for future in futures)
