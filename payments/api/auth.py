"""Request signing of the institution API: HMAC-SHA256 with the institution's API secret.

    string_to_sign = X-Timestamp + "\\n" + METHOD + "\\n" + path + "\\n" + hex(sha256(raw body))
    X-Signature    = hex(HMAC-SHA256(api_secret, string_to_sign))

`path` is the request path without the query string; a GET signs the sha256 of an empty body.
The timestamp (unix seconds) must be within 300 s of the server's clock, which bounds how long a
captured request can be replayed; a replayed POST is harmless anyway, it carries its
Idempotency-Key. No cookies, no session: CSRF does not apply (ninja exempts its views and checks
CSRF only for cookie authentication)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from django.http import HttpRequest
from ninja.security.base import AuthBase

from ..models import Institution
from ..services.settlement import NOT_DESIGNATED
from . import errors
from .errors import ApiError

MAX_SKEW_SECONDS = 300
_TIMESTAMP = re.compile(r"^\d{1,12}$")


def body_sha256(request: HttpRequest) -> str:
    """The hex sha256 of the raw body: signed by the client and kept as the services'
    request_hash, so an idempotent replay is recognised byte for byte."""
    return hashlib.sha256(request.body).hexdigest()


def string_to_sign(*, timestamp: str, method: str, path: str, body_hash: str) -> str:
    return f"{timestamp}\n{method.upper()}\n{path}\n{body_hash}"


def signature_for(*, secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class InstitutionSignature(AuthBase):
    """ninja authentication: returns the Institution (request.auth) or raises ApiError."""

    openapi_type = "apiKey"
    openapi_in = "header"
    openapi_name = "X-Signature"
    openapi_description = (
        "Headers X-Institution-Code, X-Timestamp (unix seconds, ±300 s) and X-Signature = hex "
        "HMAC-SHA256(api_secret, X-Timestamp + '\\n' + METHOD + '\\n' + path + '\\n' + "
        "hex sha256 of the raw body)."
    )

    def __call__(self, request: HttpRequest) -> Institution:
        code = request.headers.get("X-Institution-Code", "").strip()
        timestamp = request.headers.get("X-Timestamp", "").strip()
        signature = request.headers.get("X-Signature", "").strip().lower()
        if not (code and timestamp and signature):
            raise ApiError(401, "auth_headers_missing", errors.AUTH_HEADERS_MISSING)
        institution = Institution.objects.select_related("region").filter(code=code[:32]).first()
        if institution is None:
            raise ApiError(401, "unknown_institution", errors.UNKNOWN_INSTITUTION)
        if not _TIMESTAMP.match(timestamp):
            raise ApiError(401, "bad_timestamp", errors.BAD_TIMESTAMP)
        if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise ApiError(401, "stale_timestamp", errors.STALE_TIMESTAMP)
        expected = signature_for(
            secret=institution.api_secret,
            message=string_to_sign(
                timestamp=timestamp,
                method=request.method or "",
                path=request.path,
                body_hash=body_sha256(request),
            ),
        )
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise ApiError(401, "bad_signature", errors.BAD_SIGNATURE)
        # R17: only a designated institution settles; checked once the caller is proven.
        if not institution.designated:
            raise ApiError(403, "not_designated", NOT_DESIGNATED)
        return institution
