"""Races on real PostgreSQL connections, shared by the concurrency tests of every app: callables
started at the same instant by a barrier, each in its own thread with its own connection and its
own transaction. Every thread closes its connection when done."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import connection


def run_together(
    *calls: Callable,
    refused: Callable[[ValidationError], object] = lambda exc: exc.messages,
    timeout: float = 60,
) -> list[tuple[str, object]]:
    """Run the callables at once; per call, in order: ("ok", result), ("refused",
    refused(ValidationError)) or ("error", repr(exception)). Fails if a thread is stuck."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def worker(index: int, call: Callable) -> None:
        try:
            barrier.wait(timeout=20)
            outcomes[index] = ("ok", call())
        except ValidationError as exc:
            outcomes[index] = ("refused", refused(exc))
        except Exception as exc:  # reported to the test, which fails on it
            outcomes[index] = ("error", repr(exc))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(i, call), daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return outcomes


def threads_calling(monkeypatch, owner, name: str, *, pause: float = 0.05) -> set[int]:
    """Wrap `owner.name` (a batch writer of a pass) so that every call records its thread and
    pauses, letting the other connection take the next batch meanwhile; returns the set the
    threads are recorded in."""
    seen: set[int] = set()
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        seen.add(threading.get_ident())
        time.sleep(pause)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return seen
