"""The institution API's edges (issue 13 point 13): under /api/, a body larger than
API_MAX_BODY_BYTES is answered 413 before it is read, and every error answer that is not already
the API's JSON shape (Django's 404 page for an unknown path, ninja's plain-text 405, a 500 page)
becomes `{"error": {"code", "message"}}` with the same status."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse

from .. import services
from . import errors

logger = logging.getLogger(__name__)

MESSAGES = {
    400: errors.BAD_REQUEST,
    404: errors.NOT_FOUND,
    405: errors.METHOD_NOT_ALLOWED,
    413: errors.PAYLOAD_TOO_LARGE,
    503: errors.DATABASE_UNAVAILABLE,
}


def _remember_signature(request: HttpRequest, response: HttpResponse) -> None:
    """A signed POST that got its answer is remembered for the rest of its window (replays,
    payments.api.auth). Not after a 5xx: nothing changed, so the same bytes may come again."""
    remembered = getattr(request, "signature_to_remember", None)
    if remembered is None or response.status_code >= 500 or request.signature_seen:
        return
    institution_id, signature, timestamp = remembered
    try:
        services.api_request_remember(
            institution_id=institution_id, signature=signature, timestamp=timestamp
        )
    except DatabaseError:
        # The answer stands; a replay of a settled request is still answered from its key.
        logger.exception("institution API: could not remember a signature")


def json_error(status: int, code: str, message) -> JsonResponse:
    return JsonResponse(
        errors.error_body(code, message), status=status, json_dumps_params={"ensure_ascii": False}
    )


class ApiEdgesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.prefix = settings.API_PATH_PREFIX

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(self.prefix):
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error(400, "bad_request", errors.BAD_REQUEST)
        if length > settings.API_MAX_BODY_BYTES:
            return json_error(413, "payload_too_large", errors.PAYLOAD_TOO_LARGE)
        response = self.get_response(request)
        _remember_signature(request, response)
        if response.status_code < 400 or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        status = response.status_code
        replaced = json_error(
            status,
            errors.GENERIC_CODE.get(status, "internal_error" if status >= 500 else "error"),
            MESSAGES.get(status, errors.INTERNAL_ERROR if status >= 500 else errors.BAD_REQUEST),
        )
        for header in ("Allow", "Retry-After"):
            if header in response:
                replaced[header] = response[header]
        return replaced
