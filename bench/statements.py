"""SQL statements per settlement and per refund (issue 16 point 2 asks for the figure), counted in
the bench database with Django's query capture around one signed request through the test
client, the middleware and the API included:

    DJANGO_SETTINGS_MODULE=bench.settings python -m bench.statements --plan /tmp/plan.json

Counts, for one patient of each kind of the plan (bench/populate.py): a first settlement, its
replay (same key, same body) and a partial refund. Prints one line each; writes those few
settlements (after the benchmark's own ledger check)."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def signed_post(client, *, path: str, body: dict, code: str, secret: str, key: str):
    raw = json.dumps(body, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    message = f"2\n{timestamp}\nPOST\n{path}\n{key}\n{hashlib.sha256(raw).hexdigest()}"
    return client.post(
        path,
        data=raw,
        content_type="application/json",
        headers={
            "X-Institution-Code": code,
            "X-Timestamp": timestamp,
            "X-Signature-Version": "2",
            "X-Signature": hmac.new(secret.encode(), message.encode(), "sha256").hexdigest(),
            "Idempotency-Key": key,
        },
    )


def count(call) -> tuple[int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = call()
    return len(captured.captured_queries), response


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", required=True)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.test import Client

    plan = json.loads(Path(args.plan).read_text(encoding="utf-8"))
    client = Client(HTTP_HOST="127.0.0.1")
    by_kind = {}
    for patient in plan["patients"]:
        by_kind.setdefault(patient["kind"], patient)
    for kind, patient in sorted(by_kind.items()):
        code, secret = patient["institution"], plan["secrets"][patient["institution"]]
        body = {
            "patient_id_number": patient["id_number"],
            "category": "outpatient",
            "amount": "2.00",
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "items": [],
        }
        key = f"statements-{uuid.uuid4().hex}"

        def settle(body=body, key=key, code=code, secret=secret):
            return signed_post(
                client, path="/api/v1/settlements", body=body, code=code, secret=secret, key=key
            )

        first, response = count(settle)
        assert response.status_code == 201, response.content
        settlement_id = response.json()["id"]
        replay, response = count(settle)
        assert response.status_code == 201, response.content
        refund_path = f"/api/v1/settlements/{settlement_id}/refunds"
        refund, response = count(
            lambda refund_path=refund_path, code=code, secret=secret: signed_post(
                client,
                path=refund_path,
                body={"amount": "1.00"},
                code=code,
                secret=secret,
                key=f"statements-{uuid.uuid4().hex}",
            )
        )
        assert response.status_code == 201, response.content
        print(
            f"statements per request, {kind}: settlement {first}, its replay {replay}, "
            f"refund {refund}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
