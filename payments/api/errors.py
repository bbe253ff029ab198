"""Every error of the institution API has one shape, `{"error": {"code": …, "message": …}}`,
and one place where codes meet HTTP statuses (the README's error table follows this module)."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

logger = logging.getLogger(__name__)

MALFORMED_JSON = _("请求体不是合法的JSON")
BAD_REQUEST = _("请求内容不符合接口定义")
BAD_AMOUNT = _('金额须为字符串形式的正数，最多两位小数，例如 "123.45"')
BAD_OCCURRED_AT = _(
    "occurred_at 须为带时区的ISO 8601时间，不得晚于当前时间5分钟以上，也不得早于一年以前"
)
BAD_ITEM = _("明细项目名称不能为空，也不能含控制字符")
ITEMS_MISMATCH = _("明细金额合计与结算金额不一致")
BAD_ID_NUMBER = _("身份证号码格式不正确")
IDEMPOTENCY_KEY_REQUIRED = _("POST请求须带 Idempotency-Key 请求头")
BAD_IDEMPOTENCY_KEY = _("Idempotency-Key 须为1至120个可见ASCII字符（不含空格）")
AUTH_HEADERS_MISSING = _("缺少 X-Institution-Code、X-Timestamp 或 X-Signature 请求头")
UNKNOWN_INSTITUTION = _("机构编码不存在")
BAD_TIMESTAMP = _("X-Timestamp 须为Unix时间（秒）")
STALE_TIMESTAMP = _("X-Timestamp 与服务器时间相差超过300秒")
BAD_SIGNATURE = _("签名不正确")
UNSUPPORTED_SIGNATURE_VERSION = _(
    "须使用第2版签名：请求头 X-Signature-Version: 2，签名串包含 Idempotency-Key（见接口说明）"
)
REPLAYED_REQUEST = _("该签名请求已受理过且未成功；重新发送须使用新的时间戳和签名")
PAYLOAD_TOO_LARGE = _("请求体过大")
METHOD_NOT_ALLOWED = _("该路径不支持此请求方法")
DATABASE_UNAVAILABLE = _("服务暂时不可用，请稍后重试")
NOT_FOUND = _("资源不存在")
PATIENT_NOT_FOUND = _("未找到该参保人")
SETTLEMENT_NOT_FOUND = _("未找到该结算")
INTERNAL_ERROR = _("服务器内部错误，请稍后重试")

# The codes the services raise (django ValidationError.code) and the status each one gets.
SERVICE_CODE_STATUS = {
    "bad_amount": 400,
    "not_designated": 403,
    "idempotency_conflict": 409,
    "ineligible_category": 422,  # R12
    "refund_exceeds": 422,  # R17
}
GENERIC_CODE = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "refused",
    429: "throttled",
    503: "service_unavailable",
}


class ApiError(Exception):
    """Raised anywhere in the API (auth, input checks, endpoints); becomes the JSON error."""

    def __init__(self, status: int, code: str, message) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(code)


def error_body(code: str, message) -> dict:
    return {"error": {"code": code, "message": str(message)}}


def _respond(api: NinjaAPI, request: HttpRequest, status: int, code: str, message):
    return api.create_response(request, error_body(code, message), status=status)


def _validation_code(errors: list[dict]) -> tuple[str, str, str]:
    """(code, message, detail) for ninja's list of pydantic errors: the Idempotency-Key header
    first, then the first error; a wrong `amount` or `occurred_at` keeps its own code."""
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc[:1] == ["header"] and "Idempotency-Key" in loc:
            if error.get("type") in ("missing", "string_too_short"):
                return "idempotency_key_required", IDEMPOTENCY_KEY_REQUIRED, ""
            return "bad_idempotency_key", BAD_IDEMPOTENCY_KEY, ""
    error = errors[0] if errors else {}
    loc = [str(part) for part in error.get("loc", ())]
    # ninja prefixes the location with ("body", "<parameter name>").
    field = ".".join(loc[2:] if loc[:1] == ["body"] else loc)
    detail = f"{field}: {error.get('msg', '')}" if field else str(error.get("msg", ""))
    if loc and loc[-1] == "amount":
        return "bad_amount", BAD_AMOUNT, detail
    if loc and loc[-1] == "occurred_at":
        return "bad_occurred_at", BAD_OCCURRED_AT, detail
    return "bad_request", BAD_REQUEST, detail


def install_handlers(api: NinjaAPI) -> None:
    """Replace ninja's own handlers so that nothing leaves the API in another shape."""

    @api.exception_handler(ApiError)
    def api_error(request, exc: ApiError):
        return _respond(api, request, exc.status, exc.code, exc.message)

    @api.exception_handler(DjangoValidationError)
    def service_refusal(request, exc: DjangoValidationError):
        code = getattr(exc, "code", None) or (
            exc.error_list[0].code if hasattr(exc, "error_list") else None
        )
        status = SERVICE_CODE_STATUS.get(code)
        if status is None:
            code, status = "bad_request", 400
        return _respond(api, request, status, code, "；".join(exc.messages))

    @api.exception_handler(NinjaValidationError)
    def schema_error(request, exc: NinjaValidationError):
        code, message, detail = _validation_code(exc.errors)
        return _respond(api, request, 400, code, f"{message}（{detail}）" if detail else message)

    @api.exception_handler(AuthenticationError)
    def auth_error(request, exc: AuthenticationError):
        return _respond(api, request, 401, "unauthorized", AUTH_HEADERS_MISSING)

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
            return _respond(api, request, 400, "malformed_json", MALFORMED_JSON)
        code = GENERIC_CODE.get(exc.status_code, "error")
        return _respond(api, request, exc.status_code, code, exc.message)

    @api.exception_handler(Http404)
    def not_found(request, exc: Http404):
        return _respond(api, request, 404, "not_found", NOT_FOUND)

    @api.exception_handler(RequestDataTooBig)
    def too_big(request, exc: RequestDataTooBig):
        return _respond(api, request, 413, "payload_too_large", PAYLOAD_TOO_LARGE)

    @api.exception_handler(DatabaseError)
    def database_error(request, exc: DatabaseError):
        if not isinstance(exc, OperationalError | InterfaceError):
            return unexpected(request, exc)
        # The database went away (restart, failover, a killed connection): nothing was
        # committed by this request; the caller retries with the same Idempotency-Key.
        logger.error("institution API: database unavailable on %s %s: %s", request.method,
                     request.path, exc)  # fmt: skip
        response = _respond(api, request, 503, "service_unavailable", DATABASE_UNAVAILABLE)
        response["Retry-After"] = "5"
        return response

    @api.exception_handler(Exception)
    def unexpected(request, exc: Exception):
        logger.exception("institution API: unexpected error on %s %s", request.method, request.path)
        return _respond(api, request, 500, "internal_error", INTERNAL_ERROR)
