"""System checks of the accounts app (registered in AccountsConfig.ready)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from . import sms


@checks.register("accounts")
def sms_backend_importable(app_configs, **kwargs) -> list[checks.CheckMessage]:
    try:
        backend = sms.backend_class()
    except ImportError as exc:
        return [
            checks.Error(
                f"SMS_BACKEND {settings.SMS_BACKEND!r} cannot be imported: {exc}",
                hint="Name a class with send(phone, text), e.g. your SMS gateway's client.",
                id="accounts.E001",
            )
        ]
    if not callable(getattr(backend, "send", None)):
        return [
            checks.Error(
                f"SMS_BACKEND {settings.SMS_BACKEND!r} has no send(phone, text) method.",
                id="accounts.E001",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def sms_backend_is_a_gateway(app_configs, **kwargs) -> list[checks.CheckMessage]:
    try:
        backend = sms.backend_class()
    except ImportError:
        return []  # accounts.E001 says so
    if getattr(backend, "development", False) and not settings.DEBUG:
        return [
            checks.Warning(
                f"SMS_BACKEND is the development backend {settings.SMS_BACKEND!r}: activation "
                "codes reach no phone (and the console backend writes them to the log).",
                hint="Set SMS_BACKEND to the class of your SMS gateway's client "
                "(a class with send(phone, text) that raises when the gateway refuses).",
                id="accounts.W001",
            )
        ]
    return []
