"""Who is told what when an authorization changes (issue 5; R14 "both sides are told").

Built from plain values so that the batch tasks (which read rows with `.values()`) and the
one-row services share it. Names are masked: mail leaves the bureau's systems."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import translation

from accounts import notices
from accounts.models import Notification, mask_name
from accounts.services import Notice

from ..models import Authorization, Relation

Kind = Notification.Kind
PERSON_NAME_FIELDS = ("holder__name", "member__name")


def source_text(label) -> str:
    """A lazy label in the source language (Chinese), stored and translated when shown."""
    with translation.override(None):
        return str(label)


def for_row(row: dict, *, kind: str, event: str, reason=None, holder=True, member=True) -> list:
    """Notices to the holder and/or the member of one authorization, given as a dict with
    `public_id, holder_id, member_id, relation, window_start, window_end, consent_deadline` and
    the two names (`holder__name`, `member__name`)."""
    params = {
        "holder": mask_name(row["holder__name"]),
        "member": mask_name(row["member__name"]),
        "relation": source_text(Relation(row["relation"]).label),
        "start": notices.iso(row["window_start"]),
        "end": notices.iso(row["window_end"]),
    }
    if row.get("consent_deadline") is not None:
        params["deadline"] = notices.iso(row["consent_deadline"])
    if reason is not None:
        params["reason"] = source_text(reason)
    key = f"authorization:{row['public_id']}:{event}"
    out = []
    if holder:
        out.append(
            Notice(
                recipient_id=row["holder_id"],
                kind=kind,
                key=key,
                params={**params, "role": notices.HOLDER},
                link=reverse("family:authorization-detail", args=[row["public_id"]]),
            )
        )
    if member:
        link = (
            reverse("family:consent-answer", args=[row["public_id"]])
            if kind == Kind.CONSENT_REQUESTED
            else reverse("family:records")
        )
        out.append(
            Notice(
                recipient_id=row["member_id"],
                kind=kind,
                key=key,
                params={**params, "role": notices.MEMBER},
                link=link,
            )
        )
    return out


def for_guardians(notice: Notice, guardian_ids) -> list[Notice]:
    """The member's notice, addressed to each guardian who answers for them (R22)."""
    return [
        Notice(
            recipient_id=guardian_id,
            kind=notice.kind,
            key=notice.key,
            params={**notice.params, "role": notices.GUARDIAN},
            link=notice.link,
        )
        for guardian_id in guardian_ids
    ]


def for_authorization(authorization: Authorization, **kwargs) -> list:
    row = {
        "public_id": authorization.public_id,
        "holder_id": authorization.holder_id,
        "member_id": authorization.member_id,
        "relation": authorization.relation,
        "window_start": authorization.window_start,
        "window_end": authorization.window_end,
        "consent_deadline": authorization.consent_deadline,
        "holder__name": authorization.holder.name,
        "member__name": authorization.member.name,
    }
    return for_row(row, **kwargs)


def expiring_event(window_end: dt.datetime) -> str:
    """A changed window gets its own reminder: the event names the end it warns about."""
    return f"expiring:{window_end.isoformat()}"
