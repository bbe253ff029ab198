"""Text messages (短信) to a citizen's phone, through the backend named by settings.SMS_BACKEND.

A backend is a class with `send(phone, text)` that hands one message to a gateway and raises on
failure. The portal ships development backends only (console, file, locmem); a deployment names
its own gateway's class in SMS_BACKEND, and `check --deploy` warns (accounts.W001) while a
development backend is configured with DEBUG off."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import mask_phone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    phone: str
    text: str
    sent_at: dt.datetime


# What LocmemBackend sent, oldest first (as django.core.mail.outbox); tests empty it per test.
outbox: list[Message] = []


class BaseBackend:
    """A gateway's client. `development` backends never reach a phone."""

    development = False

    def send(self, phone: str, text: str) -> None:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    """Logs the message (logger `accounts.sms`, INFO): the phone masked, the text (and so a code)
    in full, so that a developer can use it. Never for production: logs are kept and shipped."""

    development = True

    def send(self, phone: str, text: str) -> None:
        logger.info("SMS to %s: %s", mask_phone(phone), text)


class FileBackend(BaseBackend):
    """Appends one JSON line per message to settings.SMS_FILE_PATH (the browser tests read the
    code there): {"phone", "text", "sent_at"}."""

    development = True
    _lock = threading.Lock()

    def send(self, phone: str, text: str) -> None:
        path = Path(settings.SMS_FILE_PATH)
        line = json.dumps(
            {"phone": phone, "text": text, "sent_at": timezone.now().isoformat()},
            ensure_ascii=False,
        )
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as file:
                file.write(line + "\n")


class LocmemBackend(BaseBackend):
    """Keeps messages in `outbox` (unit tests)."""

    development = True

    def send(self, phone: str, text: str) -> None:
        outbox.append(Message(phone=phone, text=text, sent_at=timezone.now()))


def backend_class(path: str | None = None) -> type[BaseBackend]:
    return import_string(path or settings.SMS_BACKEND)


def send_sms(*, phone: str, text: str) -> None:
    """Send one message now; the backend's exception, if any, reaches the caller."""
    backend_class()().send(phone, text)
