#!/usr/bin/env python3
"""Sign and post one settlement to the institution API; prints the status and the answer.

Standard library only, so an integrator can copy it. The defaults are the demo cast's
(JS-HOSP-001 settling 120.50 of outpatient costs for 王小明, paid by his father's account):

    python scripts/post_settlement.py
    python scripts/post_settlement.py --url http://127.0.0.1:8011 --amount 88.00 \\
        --patient 659004201503092644 --institution XJ-HOSP-001 --secret demo-secret-xj-hosp-001

Signature, version 2 (the whole recipe; header X-Signature-Version: 2):
    string_to_sign = "2" + "\\n" + X-Timestamp + "\\n" + METHOD + "\\n" + path + "\\n"
                     + Idempotency-Key + "\\n" + hex(sha256(body))
    X-Signature    = hex(HMAC-SHA256(api_secret, string_to_sign))
Sign the exact bytes you send; `path` has no query string; a GET signs an empty key line; the
timestamp is unix seconds and must be within 300 s of the server's clock. Re-sending with the
same Idempotency-Key and the same body returns the original settlement (header
Idempotent-Replayed: true), never a second one; the key is signed, so it cannot be swapped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


def signed_headers(
    *, code: str, secret: str, method: str, path: str, body: bytes, key: str = ""
) -> dict:
    """The headers of one signed request (signature version 2). `key` is the Idempotency-Key of
    a POST (sent and signed); a GET has none."""
    timestamp = str(int(time.time()))
    digest = hashlib.sha256(body).hexdigest()
    message = "\n".join(("2", timestamp, method, path, key, digest))
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Institution-Code": code,
        "X-Timestamp": timestamp,
        "X-Signature-Version": "2",
        "X-Signature": signature,
    }
    if key:
        headers["Idempotency-Key"] = key
    return headers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the portal's base URL")
    parser.add_argument("--institution", default="JS-HOSP-001")
    parser.add_argument("--secret", default="demo-secret-js-hosp-001")
    parser.add_argument("--patient", default="320102201206011359", help="identity number")
    parser.add_argument("--category", default="outpatient")
    parser.add_argument("--amount", default="120.50", help="a string, two decimals at most")
    parser.add_argument("--key", default=None, help="Idempotency-Key (default: a new UUID)")
    parser.add_argument(
        "--occurred-at",
        default=None,
        help="ISO 8601 with offset (default: the start of this hour, so that a rerun with the "
        "same --key within the hour sends the same body and is answered as a replay)",
    )
    args = parser.parse_args()

    base = urllib.parse.urlsplit(args.url)
    if base.scheme not in ("http", "https"):
        parser.error("--url must start with http:// or https://")
    path = base.path.rstrip("/") + "/api/v1/settlements"
    payload = {
        "patient_id_number": args.patient,
        "category": args.category,
        "amount": args.amount,
        "occurred_at": args.occurred_at
        or dt.datetime.now().astimezone().replace(minute=0, second=0).isoformat(timespec="seconds"),
        "items": [{"name": "门诊诊查费", "amount": args.amount}],
    }
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = signed_headers(
        code=args.institution,
        secret=args.secret,
        method="POST",
        path=path,
        body=body,
        key=args.key or str(uuid.uuid4()),
    )
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        urllib.parse.urlunsplit((base.scheme, base.netloc, path, "", "")),
        data=body,
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - checked above
            status, answer = response.status, response.read()
            replayed = response.headers.get("Idempotent-Replayed")
    except urllib.error.HTTPError as error:  # 4xx/5xx: the body is the JSON error
        status, answer, replayed = error.code, error.read(), None
    except urllib.error.URLError as error:
        print(f"Cannot reach {args.url}: {error.reason}", file=sys.stderr)
        return 2
    print(f"HTTP {status}" + (" (idempotent replay)" if replayed else ""))
    print(f"Idempotency-Key: {headers['Idempotency-Key']}")
    try:
        print(json.dumps(json.loads(answer), ensure_ascii=False, indent=2))
    except ValueError:
        print(answer.decode(errors="replace"))
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
