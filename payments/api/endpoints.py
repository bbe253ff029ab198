"""The three operations of the institution API. Thin: check the input, call one service, shape
the answer. Every refusal leaves as an exception that errors.py turns into the JSON error."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from ninja import Header, Router, Status

from .. import selectors, services
from . import errors, schemas
from .auth import body_sha256
from .errors import ApiError

router = Router(tags=["settlements"])

CREATE_ERRORS = {status: schemas.ErrorOut for status in (400, 401, 403, 404, 409, 422)}
GET_ERRORS = {status: schemas.ErrorOut for status in (401, 403, 404)}
IDEMPOTENCY_KEY = Header(
    ...,
    alias="Idempotency-Key",
    min_length=1,
    max_length=120,
    pattern=r"^[\x21-\x7E]+$",
    description="Required on POST, and signed (signature version 2): 1 to 120 visible ASCII "
    "characters. The same key with the same body returns the original result (header "
    "Idempotent-Replayed: true); with another body, 409 idempotency_conflict.",
)
REPLAYED = "Idempotent-Replayed"


def _refuse_failed_replay(request: HttpRequest, answered: Callable[[], bool]) -> None:
    """The same signed request again (issue 13): answered as the replay it is when the first
    one was answered with a settlement or refund, refused when it was not (it may have been
    refused for a reason that no longer holds, and nobody asked twice)."""
    if getattr(request, "signature_seen", False) and not answered():
        raise ApiError(409, "replayed_request", errors.REPLAYED_REQUEST)


def _own_settlement(request: HttpRequest, public_id: str):
    settlement = selectors.settlement_get_for_institution(
        institution=request.auth, public_id=public_id
    )
    if settlement is None:  # unknown, or another institution's: the same answer
        raise ApiError(404, "settlement_not_found", errors.SETTLEMENT_NOT_FOUND)
    return settlement


@router.post(
    "/settlements",
    response={201: schemas.SettlementOut, **CREATE_ERRORS},
    operation_id="settlement_create",
    summary="Settle a patient's personal-burden amount",
)
def settlement_create(
    request: HttpRequest,
    payload: schemas.SettlementIn,
    response: HttpResponse,
    idempotency_key: str = IDEMPOTENCY_KEY,
):
    amount = schemas.amount_from(payload.amount)
    occurred_at = schemas.occurred_at_from(payload.occurred_at)
    items = schemas.items_from(payload.items, amount=amount)
    id_number = schemas.id_number_from(payload.patient_id_number)
    _refuse_failed_replay(
        request,
        lambda: selectors.settlement_key_used(
            institution=request.auth, idempotency_key=idempotency_key
        ),
    )
    patient = selectors.patient_by_id_number(id_number=id_number)
    if patient is None:
        raise ApiError(404, "patient_not_found", errors.PATIENT_NOT_FOUND)
    settlement, created = services.settlement_create(
        institution=request.auth,
        patient=patient,
        category=payload.category,
        amount=amount,
        occurred_at=occurred_at,
        items=items,
        idempotency_key=idempotency_key,
        request_hash=body_sha256(request),
    )
    if not created:
        response[REPLAYED] = "true"
        settlement = _own_settlement(request, settlement.public_id)
    # a new settlement answers from what the service wrote (issue 16: no read back)
    return Status(201, schemas.settlement_out(settlement))


@router.get(
    "/settlements/{id}",
    response={200: schemas.SettlementOut, **GET_ERRORS},
    operation_id="settlement_get",
    summary="A settlement of this institution, as it stands now",
)
def settlement_get(request: HttpRequest, id: str):  # `id`, as in the contract's path
    return Status(200, schemas.settlement_out(_own_settlement(request, id)))


@router.post(
    "/settlements/{id}/refunds",
    response={201: schemas.SettlementOut, **CREATE_ERRORS},
    operation_id="settlement_refund",
    summary="Refund part or all of a settlement; returns the updated settlement",
)
def settlement_refund(
    request: HttpRequest,
    id: str,  # `id`, as in the contract's path
    payload: schemas.RefundIn,
    response: HttpResponse,
    idempotency_key: str = IDEMPOTENCY_KEY,
):
    settlement = _own_settlement(request, id)
    amount = schemas.amount_from(payload.amount)
    _refuse_failed_replay(
        request,
        lambda: selectors.refund_key_used(settlement=settlement, idempotency_key=idempotency_key),
    )
    _refund, created = services.settlement_refund(
        settlement=settlement,
        amount=amount,
        idempotency_key=idempotency_key,
        request_hash=body_sha256(request),
    )
    if not created:
        response[REPLAYED] = "true"
    return Status(201, schemas.settlement_out(_own_settlement(request, id)))
