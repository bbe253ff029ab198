"""The institution API, version 1 (issue 4 point 4): signed JSON for designated institutions,
mounted at /api/v1/ with its OpenAPI schema at /api/v1/openapi.json (no Swagger UI: it would
load from a CDN)."""

from ninja import NinjaAPI
from ninja.renderers import JSONRenderer

from .auth import InstitutionSignature
from .endpoints import router
from .errors import install_handlers


class Utf8JSONRenderer(JSONRenderer):
    """Chinese text as itself (王*国), not as \\u escapes."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    title="Family mutual aid – institution API",
    # 2.0.0 (issue 13): signature version 2 signs the Idempotency-Key and a signed request is
    # remembered while its timestamp is valid; version 1 signatures are refused. The paths and
    # fields are unchanged, so the path stays /api/v1/.
    # 2.1.0 (issue 15, R26): a line's source may also be "wallet" (the patient's 医保钱包, paid
    # after their own account and before family mutual aid). Additive: the path stays /api/v1/.
    version="2.1.0",
    description=(
        "Direct settlement at designated institutions from the employee medical-insurance "
        "personal account with family mutual aid. Every request is signed (signature version "
        '2, see the security scheme); every error is {"error": {"code", "message"}}.'
    ),
    openapi_url="/openapi.json",
    docs_url=None,
    auth=InstitutionSignature(),
    renderer=Utf8JSONRenderer(),
    urls_namespace="api-v1",
)
install_handlers(api)
api.add_router("", router)
