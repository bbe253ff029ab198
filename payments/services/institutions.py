"""Designated institutions (定点医药机构) and their API secrets."""

from __future__ import annotations

import secrets
import time

from django.db import connection, transaction

from accounts.models import AuditEntry, RegionPolicy, User
from accounts.services import audit_record

from ..models import ApiRequestSeen, Institution

# How long a signed request's timestamp is accepted either side of the server's clock.
REPLAY_WINDOW_SECONDS = 300


def institution_create(
    *,
    code: str,
    name: str,
    kind: str,
    region: RegionPolicy,
    designated: bool,
    actor: User | None,
    channel: str = AuditEntry.Channel.ADMIN,
    api_secret: str | None = None,
) -> tuple[Institution, str]:
    """Create an institution; returns it with its API secret, which is shown to staff this once.
    `api_secret` is only for the demo cast's published demo secrets."""
    secret = api_secret or secrets.token_urlsafe(32)
    with transaction.atomic():
        institution = Institution.objects.create(
            code=code, name=name, kind=kind, region=region, designated=designated,
            api_secret=secret,
        )  # fmt: skip
        audit_record(
            actor=actor,
            channel=channel,
            action="institution.create",
            obj=institution,
            after={"code": code, "name": name, "kind": kind, "region": region.pk,
                   "designated": designated},
        )  # fmt: skip
    return institution, secret


def institution_secret_rotate(*, institution: Institution, actor: User | None) -> str:
    """A new secret (the old one stops working at once); shown this once."""
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        Institution.objects.filter(pk=institution.pk).update(api_secret=secret)
        institution.api_secret = secret
        audit_record(
            actor=actor,
            channel=AuditEntry.Channel.ADMIN,
            action="institution.secret_rotate",
            obj=institution,
        )
    return secret


def institution_designation_set(
    *,
    institution: Institution,
    designated: bool,
    actor: User | None,
    channel: str = AuditEntry.Channel.ADMIN,
) -> Institution:
    """Designate an institution, or withdraw its designation (then it can no longer settle,
    R17). Audited with before and after (R20); setting the flag it already has changes nothing."""
    with transaction.atomic():
        locked = Institution.objects.select_for_update().get(pk=institution.pk)
        if locked.designated == designated:
            return locked
        before = {"designated": locked.designated}
        locked.designated = designated
        locked.save(update_fields=["designated", "updated_at"])
        audit_record(
            actor=actor,
            channel=channel,
            action="institution.designation_set",
            obj=locked,
            before=before,
            after={"designated": designated},
        )
    return locked


def api_request_seen(*, institution: Institution, signature: str) -> bool:
    """Whether this signed request was already answered within its window (a replay)."""
    return ApiRequestSeen.objects.filter(institution=institution, signature=signature).exists()


def api_request_remember(*, institution_id: int, signature: str, timestamp: int) -> None:
    """Remember a signed request once it has its answer (2xx or 4xx; a 5xx changed nothing and
    may be retried byte for byte). One statement in its own (autocommit) transaction: it also
    forgets the institution's signatures whose window has passed."""
    stale_before = int(time.time()) - 2 * REPLAY_WINDOW_SECONDS
    table = ApiRequestSeen._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH forgotten AS (DELETE FROM {table} WHERE institution_id = %s AND signed_at < %s) "  # noqa: S608 - our own table name
            f"INSERT INTO {table} (institution_id, signature, signed_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (institution_id, signature) DO NOTHING",
            [institution_id, stale_before, institution_id, signature, timestamp],
        )
