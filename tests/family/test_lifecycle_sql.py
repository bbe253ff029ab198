"""The scheduled passes write their audit entries and notifications in SQL (issue 16 point 3).
They must write exactly what the Python builders would: `snapshot_values` for the audit trail,
`notify.for_row` for the inbox. Held here on hypothesis-generated rows (odd timestamps, NULLs,
names of one to six characters, quotes, characters outside the BMP) and on whole passes."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AuditEntry, InsuredPerson, Notification
from accounts.services import setsql, snapshot_values
from family import services
from family.models import Authorization, Relation, Relationship
from family.services import lifecycle_sql, notify
from tests.clock import NOW
from tests.family.builders import DAY, SECOND, A
from tests.threads import threads_calling

Kind = Notification.Kind
UTC = dt.UTC
AUTH_FIELDS = [f.attname for f in Authorization._meta.concrete_fields]
REL_FIELDS = [f.attname for f in Relationship._meta.concrete_fields]

instants = st.datetimes(
    min_value=dt.datetime(1950, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
    max_value=dt.datetime(2099, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda d: d if d.microsecond % 3 else d.replace(microsecond=0))
names = st.text(alphabet=st.sampled_from("王李欧阳建国秀兰𠀀𪚥'\"\\ A"), min_size=1, max_size=6)
ENDED = [A.EXPIRED, A.REVOKED, A.TERMINATED, A.LAPSED]


@st.composite
def rows(draw):
    """Values an authorization row can hold (its check and unique constraints kept)."""
    start = draw(instants)
    ended = draw(st.booleans())
    return {
        "relation": draw(st.sampled_from([value for value, _ in Relation.choices])),
        "window_start": start,
        "window_end": draw(
            st.none()
            | st.integers(1, 80 * 365 * 86400).map(lambda s: start + dt.timedelta(seconds=s))
        ),
        "consent_deadline": draw(st.none() | instants),
        "answered_at": draw(st.none() | instants),
        "status": draw(st.sampled_from(ENDED)) if ended else A.ACTIVE,
        "ended_at": draw(instants) if ended else None,
        # the unique constraints hold for live rows only: a live row keeps the demo's
        "exclusive": draw(st.booleans()) if ended else False,
        "deduction_position": draw(st.none() | st.integers(1, 30)) if ended else None,
        "consent_needed": draw(st.booleans()),
        "payment_cap": draw(
            st.none()
            | st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999.99"), places=2)
        ),
        "end_note": draw(st.text(st.characters(blacklist_characters="\x00"), max_size=30)),
    }


tells = st.sampled_from(
    [
        (Kind.EXPIRED, "expired", None),
        (Kind.STARTED, "started", None),
        (Kind.ENDED, "ended", A.LAPSED.label),
        (Kind.CONSENT_REQUESTED, "requested", None),
    ]
)


def _one(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=rows(), holder=names, member=names, tell=tells)
def test_the_sql_builders_write_what_the_python_builders_do(demo, values, holder, member, tell):
    auth = Authorization.objects.order_by("pk").first()
    kind, event, reason = tell
    with transaction.atomic():
        Authorization.objects.filter(pk=auth.pk).update(**values)
        InsuredPerson.objects.filter(pk=auth.holder_id).update(name=holder)
        InsuredPerson.objects.filter(pk=auth.member_id).update(name=member)
        row = (
            Authorization.objects.filter(pk=auth.pk)
            .values(*AUTH_FIELDS, *notify.PERSON_NAME_FIELDS)
            .get()
        )
        [[snapshot]] = _one(
            f"SELECT {setsql.snapshot(Authorization, 'a')} FROM family_authorization a "  # noqa: S608
            "WHERE a.id = %s",
            [auth.pk],
        )
        assert _json(snapshot) == snapshot_values(Authorization, row)

        sql, params = notify.for_rows_sql(
            "(SELECT * FROM family_authorization WHERE id = %(id)s) a",
            kind=kind,
            event=f"'{event}'",
            reason=reason,
        )
        got = _one(
            f"SELECT recipient_id, kind, key, params, link, created_at FROM ({sql}) s "  # noqa: S608
            "ORDER BY recipient_id = %(holder)s DESC",
            {**params, "id": auth.pk, "n_at": NOW, "holder": auth.holder_id},
        )
        want = notify.for_row(row, kind=kind, event=event, reason=reason)
        assert [(r[0], r[1], r[2], _json(r[3]), r[4], r[5]) for r in got] == [
            (n.recipient_id, n.kind, n.key, n.params, n.link, NOW) for n in want
        ]
        transaction.set_rollback(True)


def _snapshots(model, fields, ids):
    return {
        row["id"]: snapshot_values(model, row)
        for row in model.objects.filter(pk__in=ids).values(*fields)
    }


@pytest.fixture(params=["sql", "orm"])
def writer(request, monkeypatch):
    """Each writer of the passes in turn: set-based SQL (PostgreSQL's) and the ORM one (what
    SQLite's `make run` takes), both on PostgreSQL here."""
    from family.services import lifecycle, lifecycle_orm

    if request.param == "orm":
        monkeypatch.setattr(lifecycle, "_writer", lambda: lifecycle_orm)
    return request.param


def test_an_expiry_pass_audits_and_tells_exactly_what_the_python_builders_say(demo, writer):
    """Every authorization of the demo expires at once; each audit entry holds the row as
    `snapshot_values` pictures it before and after, each notification is `for_row`'s, and each
    relationship left empty is ended and audited the same way, whichever writer wrote them."""
    granted = Authorization.objects.filter(status__in=Authorization.GRANTED_STATUSES)
    at = max(granted.values_list("window_start", flat=True)) + 3 * DAY
    granted.update(window_end=at - DAY + dt.timedelta(microseconds=123456))
    due = granted.filter(window_end__lt=at)
    ids = list(due.values_list("pk", flat=True))
    assert len(ids) >= 3
    relationship_ids = set(due.values_list("relationship_id", flat=True))
    rows_before = {
        row["id"]: row
        for row in Authorization.objects.filter(pk__in=ids).values(
            *AUTH_FIELDS, *notify.PERSON_NAME_FIELDS
        )
    }
    before = _snapshots(Authorization, AUTH_FIELDS, ids)
    rel_before = _snapshots(Relationship, REL_FIELDS, relationship_ids)
    first_audit = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first()

    assert services.authorizations_expire(at=at, batch_size=2) == len(ids)

    after = _snapshots(Authorization, AUTH_FIELDS, ids)
    entries = AuditEntry.objects.filter(pk__gt=first_audit, action="authorization.expire")
    assert sorted(e.object_id for e in entries) == sorted(
        str(r["public_id"]) for r in rows_before.values()
    )
    by_public = {str(r["public_id"]): r["id"] for r in rows_before.values()}
    for entry in entries:
        pk = by_public[entry.object_id]
        assert entry.before == before[pk] and entry.after == after[pk]
        assert after[pk]["status"] == A.EXPIRED and entry.person_id == rows_before[pk]["member_id"]
        assert entry.channel == AuditEntry.Channel.SYSTEM and entry.actor_id is None
        assert entry.object_type == "family.authorization"
    for row in rows_before.values():
        for notice in notify.for_row(row, kind=Kind.EXPIRED, event="expired"):
            written = Notification.objects.get(recipient_id=notice.recipient_id, key=notice.key)
            assert (written.kind, written.params, written.link, written.created_at) == (
                notice.kind,
                notice.params,
                notice.link,
                at,
            )
            assert written.email_status == Notification.EmailStatus.PENDING

    ended = AuditEntry.objects.filter(pk__gt=first_audit, action="relationship.end")
    assert ended.exists()
    rel_after = _snapshots(Relationship, REL_FIELDS, relationship_ids)
    by_rel = {str(r.public_id): r.pk for r in Relationship.objects.filter(pk__in=relationship_ids)}
    for entry in ended:
        pk = by_rel[entry.object_id]
        assert entry.before == rel_before[pk] and entry.after == rel_after[pk]
        assert rel_after[pk]["end_reason"] == Relationship.EndReason.NO_MEMBERS


def test_a_second_pass_writes_nothing(demo, writer):
    at = max(a.window_end for a in Authorization.objects.exclude(window_end=None)) + SECOND
    services.authorizations_expire(at=at)
    counts = (AuditEntry.objects.count(), Notification.objects.count())
    assert services.authorizations_expire(at=at + DAY) == 0
    assert (AuditEntry.objects.count(), Notification.objects.count()) == counts


@pytest.mark.parametrize("kind", ["PasswordField", "JSONField"])
def test_an_unknown_field_type_is_refused_not_guessed(kind):
    class Field:
        name = column = "x"

        def get_internal_type(self):
            return kind

    class Meta:
        concrete_fields = [Field()]

    class Model:
        __name__ = "Model"
        _meta = Meta()

    with pytest.raises(TypeError):
        setsql.snapshot(Model, "a")


def test_the_expiry_benchmark_knows_the_tasks_batch_size():
    """bench/expiry.py reports the task's batch size without importing Django."""
    import re
    from pathlib import Path

    from family.services import lifecycle

    text = (Path(__file__).resolve().parents[2] / "bench" / "expiry.py").read_text()
    found = re.search(r"^TASK_BATCH_SIZE = ([\d_]+)", text, re.M)
    assert found and int(found.group(1)) == lifecycle.BATCH_SIZE


def test_a_pass_outside_a_transaction_works_on_two_connections_at_once(
    demo_transactional, monkeypatch
):
    """Outside a transaction (as in the worker) batches go to PARALLEL connections at once:
    every due row moves once, with one audit entry and its two notifications, and every
    relationship left empty ends once, whichever batch expired its last member."""
    from family.services import lifecycle

    monkeypatch.setattr(lifecycle, "PARALLEL", 2)
    seen = threads_calling(monkeypatch, lifecycle_sql, "authorizations_move")
    granted = Authorization.objects.filter(status__in=Authorization.GRANTED_STATUSES)
    at = max(granted.values_list("window_start", flat=True)) + 3 * DAY
    granted.update(window_end=at - DAY)
    due = set(granted.values_list("pk", flat=True))
    emptied = set(
        Relationship.objects.filter(status=Relationship.Status.ACTIVE)
        .exclude(
            authorizations__status__in=Authorization.LIVE_STATUSES,
            authorizations__window_end__gte=at,
        )
        .exclude(authorizations__status=A.PENDING_CONSENT)
        .values_list("pk", flat=True)
    )

    assert len(due) >= 3 and emptied
    assert services.authorizations_expire(at=at, batch_size=1) == len(due)

    assert len(seen) == 2, "both connections took batches"
    assert (
        set(
            Authorization.objects.filter(status=A.EXPIRED, ended_at=at).values_list("pk", flat=True)
        )
        >= due
    )
    expired = AuditEntry.objects.filter(action="authorization.expire")
    assert expired.count() == len(due) == expired.values("object_id").distinct().count()
    assert Notification.objects.filter(kind=Kind.EXPIRED).count() == 2 * len(due)
    ended = Relationship.objects.filter(status=Relationship.Status.ENDED, ended_at=at)
    assert set(ended.values_list("pk", flat=True)) == emptied
    assert AuditEntry.objects.filter(action="relationship.end").count() == len(emptied)
