"""The institution API (issue 4 point 4): signed requests, the settlement contract, refunds,
idempotency, one error shape, and every refusal changing nothing (R9–R12, R17)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import uuid
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.test import Client

from accounts import idnumber
from accounts.models import AuditEntry
from payments.api import errors as api_errors
from payments.models import LedgerAccount, LedgerLeg, Refund, RefundLine, Settlement
from tests.clock import NOW
from tests.payments.builders import balance

pytestmark = pytest.mark.django_db

D = Decimal
SETTLEMENTS = "/api/v1/settlements"
XIAOMING = "320102201206011359"  # 王小明, resident scheme: no account of his own
XIAOYAN = "659004201503092644"  # 马小燕, bound by 马志强 then 古丽娜
FULL_ID_NUMBER = re.compile(r"\d{17}[\dX]")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def secret_of(code: str) -> str:
    return f"demo-secret-{code.lower()}"  # docs/demo.md


def sign(*, secret: str, timestamp: str, method: str, path: str, body: bytes, key: str = "") -> str:
    """The recipe of the README (signature version 2), written out again here so the server's
    copy is checked."""
    message = f"2\n{timestamp}\n{method}\n{path}\n{key}\n{hashlib.sha256(body).hexdigest()}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def call(
    method: str,
    path: str,
    payload=None,
    *,
    code: str = "JS-HOSP-001",
    secret: str | None = None,
    skew: int = 0,
    key: str | None = "auto",
    raw: bytes | None = None,
    signature: str | None = None,
    omit: tuple[str, ...] = (),
    client: Client | None = None,
    version: str = "2",
):
    """A signed request as an institution would send it; every answer is checked for a full
    identity number, whatever the test asserts next."""
    body = raw if raw is not None else b"" if payload is None else json.dumps(payload).encode()
    timestamp = str(int(NOW.timestamp()) + skew)
    if method == "POST" and key == "auto":
        key = uuid.uuid4().hex
    signed_key = key if method == "POST" and key is not None else ""
    headers = {
        "X-Institution-Code": code,
        "X-Timestamp": timestamp,
        "X-Signature-Version": version,
        "X-Signature": signature
        or sign(secret=secret or secret_of(code), timestamp=timestamp, method=method, path=path,
                body=body, key=signed_key),
    }  # fmt: skip
    if method == "POST" and key is not None:
        headers["Idempotency-Key"] = key
    for name in omit:
        headers.pop(name, None)
    client = client or Client()
    if method == "GET":
        response = client.get(path, headers=headers)
    else:
        response = client.generic(
            method, path, data=body, content_type="application/json", headers=headers
        )
    assert not FULL_ID_NUMBER.search(response.content.decode()), response.content
    return response


def body(
    *,
    patient=XIAOMING,
    category="outpatient",
    amount="120.50",
    items=None,
    occurred_at=None,
) -> dict:
    return {
        "patient_id_number": patient,
        "category": category,
        "amount": amount,
        "occurred_at": occurred_at or (NOW - dt.timedelta(hours=1)).isoformat(),
        "items": [{"name": "门诊诊查费", "amount": "20.50"}, {"name": "西药费", "amount": "100.00"}]
        if items is None
        else items,
    }


def settle(payload=None, **kwargs):
    response = call("POST", SETTLEMENTS, payload or body(), **kwargs)
    assert response.status_code == 201, response.content
    return response.json()


def refund(settlement_id: str, amount: str, **kwargs):
    return call("POST", f"{SETTLEMENTS}/{settlement_id}/refunds", {"amount": amount}, **kwargs)


def snapshot():
    """Everything a request could change: rows, audit entries and every balance."""
    return (
        Settlement.objects.count(),
        LedgerLeg.objects.count(),
        Refund.objects.count(),
        AuditEntry.objects.count(),
        sorted(LedgerAccount.objects.values_list("id", "balance")),
    )


def error_of(response) -> tuple[int, str]:
    data = response.json()
    assert set(data) == {"error"} and set(data["error"]) == {"code", "message"}
    assert data["error"]["message"]
    return response.status_code, data["error"]["code"]


@pytest.fixture(autouse=True)
def clock(time_machine):
    """Signatures are made at NOW and the server's clock stands still there."""
    time_machine.move_to(NOW, tick=False)


# Happy paths ------------------------------------------------------------------------------


def test_wang_xiaoming_is_paid_entirely_by_his_father(demo, institutions):  # R9
    data = settle()
    assert UUID.match(data["id"])
    assert data == {
        "id": data["id"],
        "status": "settled",
        "amount": "120.50",
        "lines": [{"payer": "王*国", "source": "mutual_aid", "amount": "120.50"}],
        "cash_due": "0.00",
        "refunded": "0.00",
    }
    assert balance(demo["王建国"]) == D("4879.50")
    settlement = Settlement.objects.get(public_id=data["id"])
    assert settlement.institution == institutions["JS-HOSP-001"]
    assert settlement.patient == demo["王小明"]
    assert settlement.items == [
        {"name": "门诊诊查费", "amount": "20.50"},
        {"name": "西药费", "amount": "100.00"},
    ]
    assert settlement.request_hash == hashlib.sha256(json.dumps(body()).encode()).hexdigest()
    # The service audits it, through the API channel (R20).
    assert (
        AuditEntry.objects.filter(
            action="settlement.create", channel=AuditEntry.Channel.API
        ).count()
        == 1
    )


def test_ma_xiaoyan_is_paid_in_deduction_order_then_cash(demo, institutions):  # R9, R10
    data = settle(body(patient=XIAOYAN, amount="2500.00", items=[]), code="XJ-HOSP-001")
    assert data["lines"] == [
        {"payer": "马*强", "source": "mutual_aid", "amount": "1200.00"},
        {"payer": "古*娜", "source": "mutual_aid", "amount": "800.00"},
    ]
    assert data["cash_due"] == "500.00"
    assert sum(D(line["amount"]) for line in data["lines"]) + D(data["cash_due"]) == D("2500.00")
    assert balance(demo["马志强"]) == D("0.00")
    assert balance(demo["古丽娜"]) == D("0.00")


def test_a_lowercase_x_and_blanks_in_the_identity_number_are_accepted(demo):
    data = settle(body(patient="  659004 2008 0801153x "), code="XJ-HOSP-001")  # 马俊
    assert data["cash_due"] == "120.50"  # nobody binds him: all cash
    assert data["lines"] == []


def test_get_returns_the_settlement_as_it_stands(demo):
    created = settle(body(patient=XIAOYAN, amount="1500.00", items=[]), code="XJ-HOSP-001")
    response = call("GET", f"{SETTLEMENTS}/{created['id']}", code="XJ-HOSP-001")
    assert response.status_code == 200
    assert response.json() == created
    assert response["Content-Type"] == "application/json; charset=utf-8"


def test_csrf_does_not_apply_to_the_signed_api(demo):
    response = call("POST", SETTLEMENTS, body(), client=Client(enforce_csrf_checks=True))
    assert response.status_code == 201


# Refunds (R11, R17) -----------------------------------------------------------------------


def test_refunds_go_back_in_reverse_order_of_payment(demo):  # R11, R17
    created = settle(body(patient=XIAOYAN, amount="2500.00", items=[]), code="XJ-HOSP-001")
    path = f"{SETTLEMENTS}/{created['id']}"

    first = refund(created["id"], "600.00", code="XJ-HOSP-001")
    assert first.status_code == 201
    data = first.json()
    assert (data["status"], data["refunded"], data["id"]) == (
        "partially_refunded",
        "600.00",
        created["id"],
    )
    assert data["lines"] == created["lines"]  # the payment lines themselves never change
    # Cash was paid last: its 500.00 comes back first, then 100.00 to 古丽娜.
    assert balance(demo["古丽娜"]) == D("100.00")
    assert balance(demo["马志强"]) == D("0.00")

    second = refund(created["id"], "1900.00", code="XJ-HOSP-001")
    assert second.status_code == 201
    assert (second.json()["status"], second.json()["refunded"]) == ("refunded", "2500.00")
    assert balance(demo["古丽娜"]) == D("800.00")
    assert balance(demo["马志强"]) == D("1200.00")
    back = dict(
        RefundLine.objects.values_list("settlement_line__payer__name")
        .annotate(total=Sum("amount"))
        .values_list("settlement_line__payer__name", "total")
    )
    assert back == {"马志强": D("1200.00"), "古丽娜": D("800.00")}  # nobody else (R11)

    shown = call("GET", path, code="XJ-HOSP-001").json()
    assert (shown["status"], shown["refunded"]) == ("refunded", "2500.00")


def test_a_refund_above_what_is_left_is_refused_and_changes_nothing(demo):  # R17
    created = settle()
    assert refund(created["id"], "100.00").status_code == 201
    before = snapshot()
    response = refund(created["id"], "20.51")
    assert error_of(response) == (422, "refund_exceeds")
    assert snapshot() == before
    assert refund(created["id"], "20.50").json()["status"] == "refunded"


@pytest.mark.parametrize(
    ("amount", "code"),
    [("-1", "bad_amount"), ("0", "bad_amount"), ("1.001", "bad_amount"), ("NaN", "bad_amount"),
     (1, "bad_amount")],
)  # fmt: skip
def test_a_bad_refund_amount_is_refused(demo, amount, code):
    created = settle()
    before = snapshot()
    assert error_of(refund(created["id"], amount)) == (400, code)
    assert snapshot() == before


def test_a_refund_replay_pays_back_once(demo):
    created = settle()
    first = refund(created["id"], "20.50", key="refund-1")
    again = refund(created["id"], "20.50", key="refund-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Refund.objects.count() == 1
    assert balance(demo["王建国"]) == D("4900.00")
    before = snapshot()
    assert error_of(refund(created["id"], "30.00", key="refund-1")) == (409, "idempotency_conflict")
    assert snapshot() == before


def test_a_refund_key_is_scoped_to_its_settlement(demo):
    one, two = settle(), settle()
    assert refund(one["id"], "10.00", key="same").status_code == 201
    response = refund(two["id"], "10.00", key="same")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Refund.objects.count() == 2


# Isolation -------------------------------------------------------------------------------


def test_an_institution_sees_only_its_own_settlements(demo):
    created = settle()
    before = snapshot()
    other = call("GET", f"{SETTLEMENTS}/{created['id']}", code="JS-PHARM-001")
    unknown = call("GET", f"{SETTLEMENTS}/{uuid.uuid4()}", code="JS-PHARM-001")
    assert error_of(other) == error_of(unknown) == (404, "settlement_not_found")
    assert other.json() == unknown.json()
    assert error_of(refund(created["id"], "1.00", code="JS-PHARM-001")) == (
        404,
        "settlement_not_found",
    )
    assert error_of(call("GET", f"{SETTLEMENTS}/not-a-uuid")) == (404, "settlement_not_found")
    assert snapshot() == before


# Refusals: each documented status and code, and nothing changes -----------------------------


def test_a_time_300_seconds_off_is_still_accepted(demo):
    assert call("POST", SETTLEMENTS, body(), skew=-300).status_code == 201
    assert call("POST", SETTLEMENTS, body(), skew=300).status_code == 201


def _unknown_but_valid_id_number() -> str:
    first17 = "32010219900101123"
    return first17 + idnumber.check_char(first17)


REFUSED = {
    # 401: who is asking cannot be proven
    "bad signature": (dict(signature="0" * 64), 401, "bad_signature"),
    "signed with another secret": (dict(secret="guess"), 401, "bad_signature"),
    "old timestamp (301 s)": (dict(skew=-301), 401, "stale_timestamp"),
    "future timestamp (301 s)": (dict(skew=301), 401, "stale_timestamp"),
    "unknown institution": (dict(code="JS-HOSP-999", secret="x"), 401, "unknown_institution"),
    "no signature header": (dict(omit=("X-Signature",)), 401, "auth_headers_missing"),
    "no timestamp header": (dict(omit=("X-Timestamp",)), 401, "auth_headers_missing"),
    "no institution header": (dict(omit=("X-Institution-Code",)), 401, "auth_headers_missing"),
    # 403: proven, but not designated (R17)
    "non-designated institution": (dict(code="JS-CLINIC-009"), 403, "not_designated"),
    # 400: the request itself
    "amount -1": (dict(payload=body(amount="-1", items=[])), 400, "bad_amount"),
    "amount 0": (dict(payload=body(amount="0", items=[])), 400, "bad_amount"),
    "amount 1.001": (dict(payload=body(amount="1.001", items=[])), 400, "bad_amount"),
    "amount NaN": (dict(payload=body(amount="NaN", items=[])), 400, "bad_amount"),
    "amount Infinity": (dict(payload=body(amount="Infinity", items=[])), 400, "bad_amount"),
    "amount 1e3": (dict(payload=body(amount="1e3", items=[])), 400, "bad_amount"),
    "amount huge": (dict(payload=body(amount="99999999999999999999", items=[])), 400,
                    "bad_amount"),
    "amount empty": (dict(payload=body(amount="", items=[])), 400, "bad_amount"),
    "amount as a JSON number": (dict(payload=body(amount=120.5, items=[])), 400, "bad_amount"),
    "amount as a huge JSON integer": (
        dict(raw=json.dumps(body(items=[])).replace('"120.50"', "99999999999999999999").encode()),
        400,
        "bad_amount",
    ),
    "amount as a bare NaN": (
        dict(raw=json.dumps(body(items=[])).replace('"120.50"', "NaN").encode()), 400,
        "bad_amount",
    ),
    "item amount 1.001": (
        dict(payload=body(amount="1.00", items=[{"name": "药", "amount": "1.001"}])), 400,
        "bad_amount",
    ),
    "item amount as a number": (
        dict(payload=body(amount="1.00", items=[{"name": "药", "amount": 1}])), 400, "bad_amount",
    ),
    "item without a name": (
        dict(payload=body(amount="1.00", items=[{"name": "  ", "amount": "1.00"}])), 400,
        "bad_item",
    ),
    "items not adding up": (
        dict(payload=body(amount="120.50", items=[{"name": "药", "amount": "120.49"}])), 400,
        "items_mismatch",
    ),
    "occurred_at without a time zone": (
        dict(payload=body(occurred_at="2026-11-23T09:00:00")), 400, "bad_occurred_at",
    ),
    "occurred_at 6 minutes ahead": (
        dict(payload=body(occurred_at=(NOW + dt.timedelta(minutes=6)).isoformat())), 400,
        "bad_occurred_at",
    ),
    "occurred_at not a date": (dict(payload=body(occurred_at="yesterday")), 400,
                               "bad_occurred_at"),
    "occurred_at as a number": (dict(payload=body(occurred_at=1700000000)), 400,
                                "bad_occurred_at"),
    "malformed JSON": (dict(raw=b'{"amount": "1.00",'), 400, "malformed_json"),
    "empty body": (dict(raw=b""), 400, "bad_request"),
    "a list instead of an object": (dict(raw=b"[]"), 400, "bad_request"),
    "a field missing": (
        dict(payload={k: v for k, v in body().items() if k != "category"}), 400, "bad_request",
    ),
    "an impossible identity number": (
        dict(payload=body(patient="320102201206011358")), 400, "bad_id_number",
    ),
    "no Idempotency-Key": (dict(key=None), 400, "idempotency_key_required"),
    "an empty Idempotency-Key": (dict(key=""), 400, "idempotency_key_required"),
    "an Idempotency-Key of 121 characters": (dict(key="k" * 121), 400, "bad_idempotency_key"),
    # 404: nobody by that number
    "unknown patient": (dict(payload=body(patient=_unknown_but_valid_id_number())), 404,
                        "patient_not_found"),
    # 422: a rule refuses it (R12)
    "fitness": (dict(payload=body(category="fitness")), 422, "ineligible_category"),
    "wellness": (dict(payload=body(category="wellness")), 422, "ineligible_category"),
    "public health": (dict(payload=body(category="public_health")), 422, "ineligible_category"),
    "a category of any shape": (dict(payload=body(category="健身" * 3)), 422,
                                "ineligible_category"),
}  # fmt: skip


@pytest.mark.parametrize(("options", "status", "code"), REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_settlement_gets_its_documented_error_and_changes_nothing(
    demo, options, status, code
):
    options = dict(options)
    payload = options.pop("payload", body())
    before = snapshot()
    response = call("POST", SETTLEMENTS, payload, **options)
    assert error_of(response) == (status, code)
    assert response["Content-Type"].startswith("application/json")
    assert snapshot() == before
    assert balance(demo["王建国"]) == D("5000.00")


def test_the_error_messages_are_the_documented_constants(demo):
    response = call("POST", SETTLEMENTS, body(), skew=-301)
    assert response.json()["error"]["message"] == str(api_errors.STALE_TIMESTAMP)
    response = call("POST", SETTLEMENTS, body(patient=_unknown_but_valid_id_number()))
    assert response.json()["error"]["message"] == str(api_errors.PATIENT_NOT_FOUND)


def test_the_signature_covers_the_body(demo):
    """A body changed after signing is refused, even with the original signature."""
    payload = body()
    timestamp = str(int(NOW.timestamp()))
    good = sign(secret=secret_of("JS-HOSP-001"), timestamp=timestamp, method="POST",
                path=SETTLEMENTS, body=json.dumps(payload).encode())  # fmt: skip
    tampered = json.dumps(body(amount="1.00", items=[])).encode()
    response = call("POST", SETTLEMENTS, raw=tampered, signature=good)
    assert error_of(response) == (401, "bad_signature")


def test_the_signature_covers_the_path_and_the_method(demo):
    created = settle()
    timestamp = str(int(NOW.timestamp()))
    for_get = sign(secret=secret_of("JS-HOSP-001"), timestamp=timestamp, method="GET",
                   path=f"{SETTLEMENTS}/{created['id']}", body=b"")  # fmt: skip
    response = call("POST", f"{SETTLEMENTS}/{created['id']}/refunds", {"amount": "1.00"},
                    signature=for_get)  # fmt: skip
    assert error_of(response) == (401, "bad_signature")
    assert Refund.objects.count() == 0


def test_the_non_designated_institution_is_refused_on_every_operation(demo):  # R17
    created = settle()
    for method, path, payload in [
        ("GET", f"{SETTLEMENTS}/{created['id']}", None),
        ("POST", f"{SETTLEMENTS}/{created['id']}/refunds", {"amount": "1.00"}),
    ]:
        response = call(method, path, payload, code="JS-CLINIC-009")
        assert error_of(response) == (403, "not_designated")


# Idempotency -----------------------------------------------------------------------------


def test_a_replay_with_the_same_body_pays_once(demo):
    first = call("POST", SETTLEMENTS, body(), key="visit-42")
    again = call("POST", SETTLEMENTS, body(), key="visit-42")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Settlement.objects.count() == 1
    assert LedgerLeg.objects.filter(account__person=demo["王建国"]).count() == 2  # credit, debit
    assert balance(demo["王建国"]) == D("4879.50")


def test_a_replay_shows_the_settlement_as_it_stands_now(demo):
    first = call("POST", SETTLEMENTS, body(), key="visit-43").json()
    refund(first["id"], "20.50")
    again = call("POST", SETTLEMENTS, body(), key="visit-43").json()
    assert (again["id"], again["status"], again["refunded"]) == (
        first["id"],
        "partially_refunded",
        "20.50",
    )


def test_a_replay_with_another_body_is_a_conflict(demo):
    settle(key="visit-44")
    before = snapshot()
    response = call("POST", SETTLEMENTS, body(amount="99.00", items=[]), key="visit-44")
    assert error_of(response) == (409, "idempotency_conflict")
    assert snapshot() == before


def test_idempotency_keys_belong_to_one_institution(demo):
    settle(key="visit-45")
    other = call("POST", SETTLEMENTS, body(amount="99.00", items=[]), key="visit-45",
                 code="JS-PHARM-001")  # fmt: skip
    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    assert Settlement.objects.count() == 2


# Schema, privacy, cost ---------------------------------------------------------------------


def test_the_openapi_schema_is_served_without_a_signature(db):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert (
        schema["info"]["version"] == "2.1.0"
    )  # signature version 2 (issue 13), source wallet (15)
    operations = {
        (method.upper(), path, operation["operationId"])
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    assert operations == {
        ("POST", "/api/v1/settlements", "settlement_create"),
        ("GET", "/api/v1/settlements/{id}", "settlement_get"),
        ("POST", "/api/v1/settlements/{id}/refunds", "settlement_refund"),
    }
    properties = schema["components"]["schemas"]["SettlementIn"]["properties"]
    assert properties["category"]["type"] == properties["amount"]["type"] == "string"
    assert "items_mismatch" in properties["items"]["description"]
    assert "InstitutionSignature" in schema["components"]["securitySchemes"]
    assert Client().get("/api/v1/docs").status_code == 404  # no Swagger UI (it needs a CDN)


def test_no_answer_carries_a_full_identity_number(demo):
    """call() checks every answer of this module; here the answers most likely to echo one."""
    for payload in [
        body(),
        body(patient=_unknown_but_valid_id_number()),
        body(patient="320102201206011358"),
        body(patient="32010219750312123X"),  # 王建国 himself, own account
        body(amount="abc"),
    ]:
        response = call("POST", SETTLEMENTS, payload)
        text = response.content.decode()
        assert not FULL_ID_NUMBER.search(text)
        assert payload["patient_id_number"] not in text


def test_queries_do_not_grow_with_the_lines(demo, django_assert_max_num_queries):
    """The API adds a constant few queries (institution, patient, the answer's settlement and
    lines) around the service; a GET is three queries whatever the number of lines. Issue 13
    added six to a settlement: the signature looked up and remembered (2), the people and
    authorizations share-locked (2) and read again under the locks (2). Issue 15 added one
    where the own account does not cover it all: the patient's wallet looked up, locked (R26)."""
    with django_assert_max_num_queries(33):
        one = settle()
    with django_assert_max_num_queries(33):
        two = settle(body(patient=XIAOYAN, amount="2500.00", items=[]), code="XJ-HOSP-001")
    assert (len(one["lines"]), len(two["lines"])) == (1, 2)
    for code, created in [("JS-HOSP-001", one), ("XJ-HOSP-001", two)]:
        with django_assert_max_num_queries(3):  # institution, settlement, lines with payers
            call("GET", f"{SETTLEMENTS}/{created['id']}", code=code)
    with django_assert_max_num_queries(27):  # the signature looked up and remembered: 26
        refund(two["id"], "1000.00", code="XJ-HOSP-001")
