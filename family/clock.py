"""The instant a family operation happens at, and its day in the portal's time zone."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def at_or_now(at: dt.datetime | None) -> dt.datetime:
    return at if at is not None else timezone.now()


def local_date(at: dt.datetime) -> dt.date:
    return timezone.localtime(at).date()
