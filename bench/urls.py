"""The portal's URL map plus two floors of the settlement benchmark:

- `bench/bare`: a plain Django JSON view that touches no database, the floor of what one request
  through the same middleware, server and client costs;
- `bench/raw-settlement`: the same locked transaction as one own-account settlement, written by
  hand in SQL on Django's connection (issue 16 point 1): lock the patient's personal account,
  insert the ledger transaction, the settlement, its line and the two legs, update the cached
  balance, insert the audit row, commit. No signature, idempotency or rule checks: what the
  database work of a settlement costs when no ORM builds it. Only the bench's URL map has it."""

import json
import uuid
from decimal import Decimal

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from portal.urls import urlpatterns as portal_urlpatterns


@require_GET
def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


LOCK = """
SELECT p.id, a.id, a.balance, i.id, i.region_id
  FROM accounts_insuredperson p
  JOIN payments_ledgeraccount a ON a.person_id = p.id
  JOIN payments_institution i ON i.code = %s
 WHERE p.id_number = %s
   FOR NO KEY UPDATE OF a
"""
PAYABLE = """
SELECT id FROM payments_ledgeraccount WHERE kind = 'institution_payable' AND region_id = %s
"""
LEDGER = """
INSERT INTO payments_ledgertransaction
       (public_id, kind, description, occurred_at, created_at, idempotency_key)
VALUES (%s, 'settlement', 'raw-sql floor', now(), now(), %s)
RETURNING id
"""
SETTLEMENT = """
INSERT INTO payments_settlement
       (public_id, category, amount, cash_due, refunded, status, items, occurred_at, created_at,
        updated_at, idempotency_key, request_hash, institution_id, ledger_transaction_id,
        patient_id)
VALUES (%s, 'outpatient', %s, 0, 0, 'settled', '[]', now(), now(), now(), %s, '', %s, %s, %s)
RETURNING id
"""
LINE = """
INSERT INTO payments_settlementline (position, source, amount, account_id, payer_id,
                                     settlement_id)
VALUES (1, 'own', %s, %s, %s, %s)
"""
BALANCE = "UPDATE payments_ledgeraccount SET balance = balance - %s WHERE id = %s RETURNING balance"
LEGS = """
INSERT INTO payments_ledgerleg (transaction_id, account_id, amount, balance_after, created_at)
VALUES (%s, %s, %s, %s, now()), (%s, %s, %s, NULL, now())
"""
AUDIT = """
INSERT INTO accounts_auditentry (at, channel, action, object_type, object_id, before, after,
                                 person_id)
VALUES (now(), 'api', 'settlement.create', 'payments.settlement', %s, NULL, %s, %s)
"""


@csrf_exempt
@require_POST
def raw_settlement(request: HttpRequest) -> JsonResponse:
    body = json.loads(request.body)
    amount = Decimal(body["amount"])
    settlement_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LOCK, [body["institution"], body["patient_id_number"]])
        person_id, account_id, balance, institution_id, region_id = cursor.fetchone()
        if balance < amount:
            return JsonResponse({"error": "insufficient_balance"}, status=422)
        cursor.execute(PAYABLE, [region_id])
        (payable_id,) = cursor.fetchone()
        cursor.execute(LEDGER, [uuid.uuid4(), f"raw:{settlement_id}"])
        (ledger_id,) = cursor.fetchone()
        cursor.execute(
            SETTLEMENT,
            [settlement_id, amount, body["key"], institution_id, ledger_id, person_id],
        )
        (row_id,) = cursor.fetchone()
        cursor.execute(LINE, [amount, account_id, person_id, row_id])
        cursor.execute(BALANCE, [amount, account_id])
        (after,) = cursor.fetchone()
        cursor.execute(LEGS, [ledger_id, account_id, -amount, after, ledger_id, payable_id, amount])
        audit = {"amount": str(amount), "cash_due": "0.00", "lines": [{"source": "own"}]}
        cursor.execute(AUDIT, [str(settlement_id), json.dumps(audit), person_id])
    return JsonResponse(
        {
            "id": str(settlement_id),
            "status": "settled",
            "amount": f"{amount:.2f}",
            "lines": [{"source": "own", "amount": f"{amount:.2f}"}],
            "cash_due": "0.00",
        },
        status=201,
    )


urlpatterns = [
    *portal_urlpatterns,
    path("bench/bare", bare, name="bench-bare"),
    path("bench/raw-settlement", raw_settlement, name="bench-raw-settlement"),
]
