"""The 06:00 return (R25) written in SQL, as the authorization passes are (issue 16 point 3): one
batch of locked transfers is given back, audited and told by one statement. `returns` chooses and
locks the batch (transfers, then the senders' accounts in ascending id order); this module only
writes.

The statement is a chain of data-modifying CTEs over `t`, the batch read once with the two names:
the ledger transactions are inserted and joined back by their unique key, the legs (the sender's
with its running balance, the in-flight account's) and the balances follow, then the transfers
are marked returned, audited (R20) and both sides told. The text written is the ORM writer's
(`returns._write_orm`): the same description, audit pictures and notices, held side by side by
`tests/wallet/test_returns_sql.py`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import connection
from django.urls import reverse

from accounts import notices
from accounts.models import AuditEntry, InsuredPerson, Notification
from accounts.services import setsql
from payments.models import LedgerAccount, LedgerLeg, LedgerTransaction

from ..models import Transfer, Wallet

T = Transfer._meta.db_table
W = Wallet._meta.db_table
P = InsuredPerson._meta.db_table
TX = LedgerTransaction._meta.db_table
LEG = LedgerLeg._meta.db_table
ACC = LedgerAccount._meta.db_table
AUDIT = AuditEntry._meta.db_table
ACTION = "wallet.transfer_returned"
# `returns` says why (plans that are index lookups compiled anew at every batch)
NO_JIT = "SET LOCAL jit = off"


def _statement() -> str:
    iso = setsql.datetime_text
    sender, recipient = setsql.masked_name("t.sender_name"), setsql.masked_name("t.recipient_name")
    picture = (
        f"jsonb_build_object('amount', t.amount::text, 'sender', {sender}, "
        f"'recipient', {recipient}, 'owing_region', t.owing_region_id, "
        f"'answer_by', {iso('t.answer_by', sep='T')})"
    )
    params = (
        f"jsonb_build_object('holder', {sender}, 'member', {recipient}, "
        f"'amount', t.amount::text, 'at', {iso('t.sent_at', sep='T')}, "
        f"'deadline', {iso('t.answer_by', sep='T')})"
    )
    told = (
        "SELECT r.recipient_id, %(kind)s::text AS kind, "  # noqa: S608 - constants
        "'transfer:' || t.public_id::text || ':' || %(kind)s AS key, "
        "t.params || jsonb_build_object('role', r.role) AS params, %(link)s::text AS link, "
        "%(at)s::timestamptz AS created_at FROM j t CROSS JOIN LATERAL (VALUES "
        f"(t.sender_id, '{notices.HOLDER}'), (t.recipient_id, '{notices.MEMBER}')) "
        "r(recipient_id, role)"
    )
    return (
        # the batch once (OFFSET 0: each name looked up by key, not a join of the persons table)
        "WITH t AS MATERIALIZED (SELECT b.*, "  # noqa: S608 - constants
        f"(SELECT name FROM {P} WHERE id = b.sender_id) AS sender_name, "
        f"(SELECT name FROM {P} WHERE id = b.recipient_id) AS recipient_name FROM "
        f"(SELECT tr.*, (SELECT person_id FROM {W} WHERE id = tr.wallet_id) AS recipient_id, "
        "'transfer:' || tr.public_id::text || ':return' AS entry_key "
        f"FROM {T} tr WHERE tr.id = ANY(%(ids)s::bigint[]) AND tr.status = %(pending)s "
        "OFFSET 0) b), "
        f"x AS (INSERT INTO {TX} (public_id, kind, description, occurred_at, created_at, "
        f"idempotency_key) SELECT gen_random_uuid(), %(tx_kind)s, "
        f"left(%(desc)s || {recipient} || %(desc_end)s, 200), %(at)s, statement_timestamp(), "
        "t.entry_key FROM t ORDER BY t.id RETURNING id, idempotency_key), "
        f"j AS MATERIALIZED (SELECT t.*, x.id AS entry_id, {picture} AS picture, {params} "
        "AS params FROM t JOIN x ON x.idempotency_key = t.entry_key), "
        # the sender's leg carries the balance after it: the balance before the batch (this
        # statement's snapshot, under the lock) plus the return (a running sum per account,
        # though the database allows one pending transfer per sender: transfer_one_pending)
        f"legs AS (INSERT INTO {LEG} (transaction_id, account_id, amount, balance_after, "
        "created_at) SELECT j.entry_id, (%(in_flight)s::jsonb ->> j.owing_region_id::text)"
        "::bigint, -j.amount, NULL, statement_timestamp() FROM j UNION ALL "
        "SELECT j.entry_id, j.sender_account_id, j.amount, a.balance + sum(j.amount) OVER "
        "(PARTITION BY j.sender_account_id ORDER BY j.id), statement_timestamp() "
        f"FROM j JOIN {ACC} a ON a.id = j.sender_account_id RETURNING 1), "
        f"balances AS (UPDATE {ACC} a SET balance = a.balance + s.total FROM (SELECT "
        "sender_account_id AS id, sum(amount) AS total FROM j GROUP BY 1) s "
        "WHERE a.id = s.id RETURNING 1), "
        f"marked AS (UPDATE {T} tr SET status = %(returned)s, finished_at = %(at)s, "
        "finish_transaction_id = j.entry_id FROM j WHERE tr.id = j.id "
        "AND tr.id = ANY(%(ids)s::bigint[]) RETURNING 1), "
        f"audit AS (INSERT INTO {AUDIT} (at, actor_id, channel, action, object_type, object_id, "
        "person_id, before, after) SELECT statement_timestamp(), NULL, %(system)s, %(action)s, "
        "%(object_type)s, j.public_id::text, j.recipient_id, "
        "j.picture || jsonb_build_object('status', j.status), "
        "j.picture || jsonb_build_object('status', %(returned)s::text) FROM j RETURNING 1), "
        f"told AS ({setsql.notification_insert(source=told)} RETURNING 1) "
        "SELECT (SELECT count(*) FROM j), (SELECT count(*) FROM legs), "
        "(SELECT count(*) FROM marked), (SELECT count(*) FROM audit)"
    )


def transfers_return(ids: list[int], *, at: dt.datetime, in_flight: dict[int, int]) -> int:
    """Give back the locked pending transfers `ids` (their senders' accounts locked too):
    `in_flight` maps each owing region id to its in-flight account id. Returns how many."""
    params: dict[str, Any] = {
        "ids": ids,
        "pending": str(Transfer.Status.PENDING),
        "returned": str(Transfer.Status.RETURNED),
        "tx_kind": str(LedgerTransaction.Kind.TRANSFER_RETURN),
        "desc": "医保钱包转账退回 ",
        "desc_end": "逾期未接收",
        "at": at,
        "in_flight": json.dumps({str(region): account for region, account in in_flight.items()}),
        "system": str(AuditEntry.Channel.SYSTEM),
        "action": ACTION,
        "object_type": Transfer._meta.label_lower,
        "kind": str(Notification.Kind.TRANSFER_RETURNED),
        "link": reverse("wallet:transfers"),
    }
    with connection.cursor() as cursor:
        cursor.execute(NO_JIT)
        cursor.execute(_statement(), params)
        returned, legs, marked, audited = cursor.fetchone()
    if not (legs == 2 * returned and marked == audited == returned):
        raise RuntimeError(f"return batch wrote {legs} legs, {marked} marks for {returned}")
    return returned
