"""The institution API against a hostile caller (issue 13 points 1, 3, 10, 13): a captured
request sent again, dates no page can show, amounts looser than the contract, and the edges of
the API (huge bodies, wrong methods, unknown paths). Every refusal has its documented code and
changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from django.test import Client

from payments.api import errors as api_errors
from payments.models import ApiRequestSeen, Refund, Settlement
from tests.clock import NOW
from tests.payments.builders import balance
from tests.payments.test_api import (  # noqa: F401 - `clock` is the module's autouse fixture
    SETTLEMENTS,
    body,
    call,
    clock,
    error_of,
    secret_of,
    settle,
    sign,
    snapshot,
)

pytestmark = pytest.mark.django_db
D = Decimal


def captured(path=SETTLEMENTS, payload=None, *, key="visit-1", code="JS-HOSP-001"):
    """The bytes and headers of one signed POST, as an eavesdropper on the way would keep them."""
    raw = json.dumps(payload or body()).encode()
    timestamp = str(int(NOW.timestamp()))
    headers = {
        "X-Institution-Code": code,
        "X-Timestamp": timestamp,
        "X-Signature-Version": "2",
        "X-Signature": sign(secret=secret_of(code), timestamp=timestamp, method="POST",
                            path=path, body=raw, key=key),
        "Idempotency-Key": key,
    }  # fmt: skip
    return raw, headers


def send(path, raw, headers, **changes):
    return Client().generic(
        "POST", path, data=raw, content_type="application/json", headers={**headers, **changes}
    )


# Point 1: a captured signed request cannot be charged again --------------------------------


def test_a_captured_settlement_resent_under_fresh_keys_is_refused(demo):
    raw, headers = captured()
    assert send(SETTLEMENTS, raw, headers).status_code == 201
    before = snapshot()
    for _ in range(5):
        response = send(SETTLEMENTS, raw, headers, **{"Idempotency-Key": uuid.uuid4().hex})
        assert error_of(response) == (401, "bad_signature")
    assert snapshot() == before
    assert Settlement.objects.count() == 1
    assert balance(demo["王建国"]) == D("5000.00") - D("120.50")


def test_the_same_signed_request_again_is_answered_as_the_replay_it_is(demo):
    raw, headers = captured()
    first = send(SETTLEMENTS, raw, headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    for _ in range(5):
        again = send(SETTLEMENTS, raw, headers)
        assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
    assert Settlement.objects.count() == 1
    assert ApiRequestSeen.objects.count() == 1


def test_a_signed_request_that_was_refused_cannot_be_sent_again(demo):
    """A request refused for a reason that may stop holding (the category here; a patient not
    yet registered, an institution not yet designated) is not kept to be tried later."""
    raw, headers = captured(payload=body(category="fitness"))
    assert error_of(send(SETTLEMENTS, raw, headers)) == (422, "ineligible_category")
    before = snapshot()
    response = send(SETTLEMENTS, raw, headers)
    assert error_of(response) == (409, "replayed_request")
    assert response.json()["error"]["message"] == str(api_errors.REPLAYED_REQUEST)
    assert snapshot() == before


def test_a_captured_refund_resent_under_a_fresh_key_is_refused(demo):
    created = settle()
    path = f"{SETTLEMENTS}/{created['id']}/refunds"
    raw, headers = captured(path, {"amount": "20.00"}, key="refund-1")
    assert send(path, raw, headers).status_code == 201
    before = snapshot()
    for _ in range(5):
        response = send(path, raw, headers, **{"Idempotency-Key": uuid.uuid4().hex})
        assert error_of(response) == (401, "bad_signature")
        assert send(path, raw, headers)["Idempotent-Replayed"] == "true"
    assert snapshot() == before
    assert Refund.objects.count() == 1


def test_a_version_1_signature_is_refused_with_its_own_code(demo):
    before = snapshot()
    response = call("POST", SETTLEMENTS, body(), omit=("X-Signature-Version",))
    assert error_of(response) == (401, "unsupported_signature_version")
    assert error_of(call("POST", SETTLEMENTS, body(), version="1")) == (
        401,
        "unsupported_signature_version",
    )
    assert error_of(call("GET", f"{SETTLEMENTS}/{uuid.uuid4()}", version="1"))[1] == (
        "unsupported_signature_version"
    )
    assert snapshot() == before


@pytest.mark.parametrize("key", ["a b", "key\twith-tab", "", "é" * 3])
def test_an_idempotency_key_outside_visible_ascii_is_refused(demo, key):
    before = snapshot()
    status, code = error_of(call("POST", SETTLEMENTS, body(), key=key))
    assert (status, code) in {
        (400, "bad_idempotency_key"),
        (400, "idempotency_key_required"),
        (401, "bad_signature"),  # a header the client encoded otherwise than it signed
    }
    assert snapshot() == before


def test_remembered_signatures_are_forgotten_after_their_window(demo, time_machine):
    settle()
    assert ApiRequestSeen.objects.count() == 1
    time_machine.move_to(NOW + dt.timedelta(minutes=11), tick=False)
    call("POST", SETTLEMENTS, body(), skew=11 * 60)
    assert ApiRequestSeen.objects.count() == 1  # the old one went, the new one came


# Point 3: dates every page can show and convert ----------------------------------------------

BAD_OCCURRED_AT = [
    "0001-01-01T00:00:00+08:00",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59-12:00",
    (NOW - dt.timedelta(days=367)).isoformat(),
    "2026-11-23",  # no time
    "2026-11-23 09:30:00+08:00",  # a blank instead of T
    "2026-W48-1T09:30:00+08:00",  # a week date
    " " + (NOW - dt.timedelta(hours=1)).isoformat(),
    (NOW - dt.timedelta(hours=1)).isoformat() + "\n",
    "２０２６-11-23T09:30:00+08:00",  # full-width digits
]


@pytest.mark.parametrize("occurred_at", BAD_OCCURRED_AT)
def test_occurred_at_outside_the_contract_is_refused_and_changes_nothing(demo, occurred_at):
    before = snapshot()
    response = call("POST", SETTLEMENTS, body(occurred_at=occurred_at))
    assert error_of(response) == (400, "bad_occurred_at")
    assert snapshot() == before


def test_occurred_at_a_year_back_and_with_z_is_accepted(demo):
    for value in [
        (NOW - dt.timedelta(days=365)).isoformat(),
        (NOW - dt.timedelta(hours=2)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    ]:
        assert call("POST", SETTLEMENTS, body(occurred_at=value)).status_code == 201


# Point 10: amounts exactly as the contract writes them -----------------------------------------

LOOSE_AMOUNTS = ["1_000", "١٢٠.٥٠", "１２０.５０", "+120.50", " 120.50", "120.50 ", ".5", "5.",
                 "120.50\n", "0x10", "1,000.00", "12345678", "1e2", "−1", "Infinity"]  # fmt: skip


@pytest.mark.parametrize("amount", LOOSE_AMOUNTS)
def test_an_amount_looser_than_the_contract_is_refused_everywhere(demo, amount):
    before = snapshot()
    settled = call("POST", SETTLEMENTS, body(amount=amount, items=[]))
    assert error_of(settled) == (400, "bad_amount")
    assert snapshot() == before
    items = [{"name": "西药费", "amount": amount}]
    item = call("POST", SETTLEMENTS, body(amount="120.50", items=items))
    assert error_of(item) == (400, "bad_amount")
    created = settle()
    before = snapshot()
    refund = call("POST", f"{SETTLEMENTS}/{created['id']}/refunds", {"amount": amount})
    assert error_of(refund) == (400, "bad_amount")
    assert snapshot() == before


def test_the_openapi_pattern_is_the_rule(db):
    schema = Client().get("/api/v1/openapi.json").json()
    pattern = schema["components"]["schemas"]["SettlementIn"]["properties"]["amount"]["pattern"]
    assert pattern == "^[0-9]{1,7}(\\.[0-9]{1,2})?$"
    info = schema["info"]
    assert info["version"] == "2.1.0"


# Point 13: the edges of the API answer in its own shape ----------------------------------------


def test_a_body_over_the_limit_is_413_before_it_is_read(demo):
    before = snapshot()
    raw = b'{"patient_id_number": "' + b"1" * (3 * 1024 * 1024) + b'"}'
    response = call("POST", SETTLEMENTS, raw=raw)
    assert error_of(response) == (413, "payload_too_large")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", SETTLEMENTS), ("PUT", SETTLEMENTS), ("DELETE", f"{SETTLEMENTS}/{uuid.uuid4()}"),
     ("PATCH", f"{SETTLEMENTS}/{uuid.uuid4()}/refunds")],
)  # fmt: skip
def test_a_wrong_method_is_405_in_the_json_shape(demo, method, path):
    response = call(method, path, {})
    assert error_of(response) == (405, "method_not_allowed")
    assert response["Allow"]


@pytest.mark.parametrize(
    "path", ["/api/", "/api/v1/", "/api/v1/nothing", "/api/v2/settlements", f"{SETTLEMENTS}/"]
)
def test_an_unknown_path_under_api_is_404_in_the_json_shape(demo, path):
    for method in ("GET", "POST"):
        response = call(method, path, {})
        assert error_of(response) == (404, "not_found"), (method, path)
        assert response["Content-Type"].startswith("application/json")


def test_a_signature_is_remembered_only_once_its_request_has_an_answer(demo, monkeypatch):
    """A 5xx changed nothing (the database went away, a bug): the same bytes may come again."""
    from payments.services import settlement as settlement_service

    def database_gone():
        from django.db import OperationalError

        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(settlement_service, "fault_after_first_line", database_gone)
    raw, headers = captured()
    failed = send(SETTLEMENTS, raw, headers)
    assert error_of(failed) == (503, "service_unavailable") and failed["Retry-After"]
    assert ApiRequestSeen.objects.count() == 0 and Settlement.objects.count() == 0
    monkeypatch.setattr(settlement_service, "fault_after_first_line", None)
    again = send(SETTLEMENTS, raw, headers)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert ApiRequestSeen.objects.count() == 1 and Settlement.objects.count() == 1
