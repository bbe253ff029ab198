"""The institution API attacked with generated requests (hypothesis): bodies of any JSON shape
with hostile values in every field, raw bytes that are not JSON, hostile headers and path ids,
each one signed correctly (an institution's own integrator is the hostile party here).

Asserted for every request: no 5xx; an error has the one JSON shape and a code of the README's
error table with that table's status; a refused request writes nothing."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.payments.test_api import secret_of, sign

from .harness import changed, rolled_back, writes
from .hostile import NASTY, hostile

SETTLEMENTS = "/api/v1/settlements"
XIAOMING = "320102201206011359"  # 王小明: paid by 王建国 through mutual aid
README = Path(__file__).resolve().parents[2] / "README.md"


def documented_codes() -> dict[str, int]:
    """code -> status, from the README's error table (the integrators' contract)."""
    codes = {}
    for status, cell in re.findall(r"^\| (\d{3}) \| (`[^|]+) \|", README.read_text(), re.M):
        for code in re.findall(r"`([a-z_]+)`", cell):
            codes[code] = int(status)
    return codes


CODES = documented_codes()

json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile(), inner, max_size=3),
    max_leaves=6,
)


def _now_iso(hours=1) -> str:
    return (timezone.now() - dt.timedelta(hours=hours)).isoformat(timespec="seconds")


item = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.just("西药费"), hostile(), json_value),
        "amount": st.one_of(st.just("10.00"), hostile(), json_value),
    },
)
settlement_body = st.fixed_dictionaries(
    {},
    optional={
        "patient_id_number": st.one_of(st.just(XIAOMING), hostile(), json_value),
        "category": st.one_of(st.sampled_from(["outpatient", "pharmacy_drug"]), hostile()),
        "amount": st.one_of(st.sampled_from(["10.00", "20.50"]), hostile(), json_value),
        "occurred_at": st.one_of(st.builds(_now_iso), hostile(), json_value),
        "items": st.one_of(st.lists(item, max_size=3), json_value),
        "extra": json_value,
    },
)


FIELDS = ["patient_id_number", "category", "amount", "occurred_at", "items.name", "items.amount"]


def _valid() -> dict:
    return {
        "patient_id_number": XIAOMING,
        "category": "outpatient",
        "amount": "20.50",
        "occurred_at": _now_iso(),
        "items": [{"name": "门诊诊查费", "amount": "20.50"}],
    }


def _spoiled(changes: dict) -> dict:
    body = _valid()
    for field, value in changes.items():
        if field.startswith("items."):
            body["items"][0][field[len("items.") :]] = value
        else:
            body[field] = value
    return body


# A valid body with one or two fields spoiled: gets past the schema to each field's own check.
spoiled_body = st.dictionaries(
    st.sampled_from(FIELDS),
    st.one_of(st.sampled_from(NASTY), hostile(), json_value),
    min_size=1,
    max_size=2,
).map(_spoiled)
raw_body = st.one_of(
    spoiled_body.map(lambda b: json.dumps(b).encode()),
    spoiled_body.map(lambda b: json.dumps(b).encode()),
    settlement_body.map(lambda b: json.dumps(b).encode()),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b'{"amount": "1.00"', "\ufeff{}".encode(), b"\xff\xfe{}"]),
)
header_value = st.one_of(hostile(), st.text(st.characters(codec="ascii"), max_size=30))


def _request(method: str, path: str, raw: bytes, *, code="JS-HOSP-001", key=None, **override):
    timestamp = str(int(timezone.now().timestamp()))
    key = uuid.uuid4().hex if key is None else key
    headers = {
        "X-Institution-Code": code,
        "X-Timestamp": timestamp,
        "X-Signature-Version": "2",
        "Idempotency-Key": key,
    }
    headers.update(override)
    headers["X-Signature"] = override.get("X-Signature") or sign(
        secret=secret_of(code) if isinstance(code, str) and code.isascii() else "x",
        timestamp=headers["X-Timestamp"],
        method=method,
        path=path,
        body=raw,
        key=headers["Idempotency-Key"] if method == "POST" else "",
    )
    if method == "GET":
        headers.pop("Idempotency-Key")
    # Header values travel as latin-1; what cannot is what no HTTP client could send.
    headers = {k: v for k, v in headers.items() if _sendable(v)}
    return Client().generic(method, path, data=raw, content_type="application/json",
                            headers=headers)  # fmt: skip


def _sendable(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\n" not in value and "\r" not in value and "\x00" not in value


def _checked(response) -> None:
    status = response.status_code
    assert status < 500, (status, response.content[:500])
    if status >= 400:
        error = response.json()["error"]
        assert set(error) == {"code", "message"} and error["message"]
        assert CODES.get(error["code"]) == status, (status, error)


def _attempt(method: str, path: str, raw: bytes, **headers) -> None:
    with rolled_back():
        before = writes()
        response = _request(method, path, raw, **headers)
        _checked(response)
        if response.status_code >= 400:
            assert changed(before, writes()) == [], response.json()


@pytest.fixture
def paid(world, db):
    """A settlement of 王小明's care at JS-HOSP-001, to refund and read."""
    body = {"patient_id_number": XIAOMING, "category": "outpatient", "amount": "50.00",
            "occurred_at": _now_iso()}  # fmt: skip
    response = _request("POST", SETTLEMENTS, json.dumps(body).encode())
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_the_readme_lists_the_codes_the_api_answers():
    assert CODES["bad_amount"] == 400 and CODES["replayed_request"] == 409
    assert CODES["payload_too_large"] == 413 and len(CODES) >= 25


@pytest.mark.parametrize("field", FIELDS)
def test_every_nasty_value_in_every_field(world, db, field):
    for value in NASTY:
        _attempt("POST", SETTLEMENTS, json.dumps(_spoiled({field: value})).encode())


@settings(max_examples=150)
@given(raw=raw_body)
def test_any_settlement_body(world, db, raw):
    _attempt("POST", SETTLEMENTS, raw)


@settings(max_examples=60)
@given(raw=st.one_of(raw_body, st.just(b'{"amount": "1.00"}')), amount=hostile())
def test_any_refund_body(world, paid, raw, amount):
    path = f"{SETTLEMENTS}/{paid}/refunds"
    _attempt("POST", path, raw)
    _attempt("POST", path, json.dumps({"amount": amount}).encode())


@settings(max_examples=60)
@given(
    code=header_value,
    timestamp=header_value,
    key=header_value,
    version=header_value,
    signature=header_value,
    which=st.sets(st.sampled_from(["code", "timestamp", "key", "version", "signature"])),
)
def test_any_headers(world, db, code, timestamp, key, version, signature, which):
    raw = json.dumps({"patient_id_number": XIAOMING, "category": "outpatient",
                      "amount": "10.00", "occurred_at": _now_iso()}).encode()  # fmt: skip
    override = {
        "X-Timestamp": timestamp if "timestamp" in which else None,
        "X-Signature-Version": version if "version" in which else None,
        "X-Signature": signature if "signature" in which else None,
    }
    _attempt(
        "POST",
        SETTLEMENTS,
        raw,
        code=code if "code" in which else "JS-HOSP-001",
        key=key if "key" in which else None,
        **{k: v for k, v in override.items() if v is not None},
    )


@settings(max_examples=60)
@given(
    segment=st.one_of(st.sampled_from(NASTY), st.text(max_size=40)),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
)
def test_any_path(world, paid, segment, method):
    one = quote(segment, safe="")
    for path in (
        f"{SETTLEMENTS}/{one}",
        f"{SETTLEMENTS}/{paid}/{one}",
        f"{SETTLEMENTS}/{paid}/refunds/{one}",
    ):
        _attempt(method, path, b"{}")
