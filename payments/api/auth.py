"""Request signing of the institution API, signature version 2: HMAC-SHA256 with the
institution's API secret over the timestamp, method, path, Idempotency-Key and body.

    string_to_sign = "2" + "\\n" + X-Timestamp + "\\n" + METHOD + "\\n" + path + "\\n"
                     + Idempotency-Key + "\\n" + hex(sha256(raw body))
    X-Signature    = hex(HMAC-SHA256(api_secret, string_to_sign))

Sent with `X-Signature-Version: 2`. `path` is the request path without the query string; a GET
has no Idempotency-Key (an empty line) and signs the sha256 of an empty body. Version 1 did not
sign the key, so a captured POST could be sent again under a fresh key and pay again (issue 13):
it is refused with 401 unsupported_signature_version.

The timestamp (unix seconds) must be within 300 s of the server's clock, which bounds how long a
captured request can be replayed; within that window every POST signature that got its answer
(2xx or 4xx) is remembered once (`ApiRequestSeen`): the same signature again is answered as the
replay it is (the original result, `Idempotent-Replayed: true`) when the first request settled
or refunded, and refused with 409 replayed_request when it did not. A request answered 5xx
(the database went away) changed nothing and is not remembered: the same bytes may be sent
again. No cookies, no session: CSRF does not apply."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from django.http import HttpRequest
from ninja.security.base import AuthBase

from .. import services
from ..models import Institution
from ..services.institutions import REPLAY_WINDOW_SECONDS
from ..services.settlement import NOT_DESIGNATED
from . import errors
from .errors import ApiError

SIGNATURE_VERSION = "2"
_TIMESTAMP = re.compile(r"^\d{1,12}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def body_sha256(request: HttpRequest) -> str:
    """The hex sha256 of the raw body: signed by the client and kept as the services'
    request_hash, so an idempotent replay is recognised byte for byte."""
    return hashlib.sha256(request.body).hexdigest()


def string_to_sign(
    *, timestamp: str, method: str, path: str, idempotency_key: str, body_hash: str
) -> str:
    return "\n".join(
        (SIGNATURE_VERSION, timestamp, method.upper(), path, idempotency_key, body_hash)
    )


def signature_for(*, secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class InstitutionSignature(AuthBase):
    """ninja authentication: returns the Institution (request.auth) or raises ApiError. Sets
    `request.signature_seen` on a POST whose signature was already used (a replay)."""

    openapi_type = "apiKey"
    openapi_in = "header"
    openapi_name = "X-Signature"
    openapi_description = (
        "Signature version 2. Headers X-Institution-Code, X-Timestamp (unix seconds, ±300 s), "
        "X-Signature-Version: 2 and X-Signature = hex HMAC-SHA256(api_secret, '2' + '\\n' + "
        "X-Timestamp + '\\n' + METHOD + '\\n' + path + '\\n' + Idempotency-Key (empty for GET) "
        "+ '\\n' + hex sha256 of the raw body). The same signed request sent again within the "
        "window is answered as a replay (or 409 replayed_request if the first did not succeed)."
    )

    def __call__(self, request: HttpRequest) -> Institution:
        code = request.headers.get("X-Institution-Code", "").strip()
        timestamp = request.headers.get("X-Timestamp", "").strip()
        signature = request.headers.get("X-Signature", "").strip().lower()
        if not (code and timestamp and signature):
            raise ApiError(401, "auth_headers_missing", errors.AUTH_HEADERS_MISSING)
        if request.headers.get("X-Signature-Version", "").strip() != SIGNATURE_VERSION:
            raise ApiError(
                401, "unsupported_signature_version", errors.UNSUPPORTED_SIGNATURE_VERSION
            )
        institution = Institution.objects.select_related("region").filter(code=code[:32]).first()
        if institution is None:
            raise ApiError(401, "unknown_institution", errors.UNKNOWN_INSTITUTION)
        if not _TIMESTAMP.match(timestamp):
            raise ApiError(401, "bad_timestamp", errors.BAD_TIMESTAMP)
        if abs(time.time() - int(timestamp)) > REPLAY_WINDOW_SECONDS:
            raise ApiError(401, "stale_timestamp", errors.STALE_TIMESTAMP)
        expected = signature_for(
            secret=institution.api_secret,
            message=string_to_sign(
                timestamp=timestamp,
                method=request.method or "",
                path=request.path,
                idempotency_key=request.headers.get("Idempotency-Key", ""),
                body_hash=body_sha256(request),
            ),
        )
        if not (
            _HEX64.match(signature) and hmac.compare_digest(expected.encode(), signature.encode())
        ):
            raise ApiError(401, "bad_signature", errors.BAD_SIGNATURE)
        # R17: only a designated institution settles; checked once the caller is proven.
        if not institution.designated:
            raise ApiError(403, "not_designated", NOT_DESIGNATED)
        request.signature_seen = False
        if request.method == "POST":
            request.signature_seen = services.api_request_seen(
                institution=institution, signature=signature
            )
            # Remembered by ApiEdgesMiddleware once the answer is known (not on a 5xx).
            request.signature_to_remember = (institution.pk, signature, int(timestamp))
        return institution
