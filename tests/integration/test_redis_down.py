"""Redis down (issue 5 acceptance): with the broker and the cache pointing at a Redis that does
not answer, every page still renders, an enqueue failure is logged instead of raised, and an
authorization whose window ended is refused at use time although no task has expired it.

Nothing is stopped: the broker and the cache point at a port where nothing listens (the machine's
real Redis serves other tests meanwhile). The cache is django-redis with IGNORE_EXCEPTIONS, as
`portal/settings/base.py` configures it when REDIS_URL is set; Django resets its cache handlers
when CACHES changes. The Celery app reads its CELERY_ settings live from django.conf.settings, so
the same `settings` fixture points the broker there and turns eager mode off. `transactional_db`:
enqueueing happens on commit, so the commits must be real."""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_redis.cache import RedisCache

from accounts.demo import CITIZEN_PASSWORD
from accounts.models import AuditEntry, Notification
from accounts.tasks import send_notification_emails
from family import selectors, services
from family.forms.member import AGREE
from family.models import Authorization, Relation
from payments.models import Institution, SettlementLine
from portal.celery import app as celery_app
from tests.demo import load_demo, people
from tests.family.builders import bind, live, req
from tests.payments.builders import lines, settle

pytestmark = pytest.mark.django_db(transaction=True)

BROKEN_URL = "redis://127.0.0.1:6399/0"  # nothing listens there
A = Authorization.Status


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": BROKEN_URL,
            "KEY_PREFIX": "portal",
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
    settings.CELERY_BROKER_URL = BROKEN_URL
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Celery keeps the broker connections of its first publish pooled (`app.pool`,
    # `app.amqp.producer_pool`: the real broker, if the worker test ran first). Dropping them is
    # what Celery itself does in a new process; the next publish connects to the broker set now.
    celery_app._after_fork()
    assert celery_app.conf.broker_url == BROKEN_URL and not celery_app.conf.task_always_eager
    try:
        yield
    finally:
        celery_app._after_fork()


def enqueue_failures(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "portal.tasks" and r.levelno == logging.ERROR]


def test_the_cache_really_is_the_unreachable_redis(redis_down):
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    cache.set("probe", 1)  # ignored, not raised
    assert cache.get("probe") is None


def test_an_enqueue_the_broker_cannot_take_is_logged_and_the_commit_stands(redis_down, caplog):
    caplog.set_level(logging.ERROR, logger="portal.tasks")
    started = time.monotonic()
    with transaction.atomic():
        entry = AuditEntry.objects.create(
            channel=AuditEntry.Channel.SYSTEM, action="test.commit", object_type="t", object_id="1"
        )
        send_notification_emails.delay_on_commit()
    print(f"delay_on_commit with Redis unreachable returned in {time.monotonic() - started:.2f} s")

    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    [failure] = enqueue_failures(caplog)
    assert "accounts.send_notification_emails" in failure.getMessage()
    assert "6399" in str(failure.exc_info[1])  # the broken broker, not the machine's Redis
    assert send_notification_emails.enqueue() is False


def test_a_citizens_pages_render_and_changes_commit_without_redis(client, redis_down, caplog):
    caplog.set_level(logging.ERROR, logger="portal.tasks")
    load_demo()
    cast = people()
    holder, desheng = cast["王建国"], cast["王德胜"]

    assert client.get(reverse("accounts:login")).status_code == 200
    response = client.post(
        reverse("accounts:login"),
        {"username": holder.id_number, "password": CITIZEN_PASSWORD},
    )
    assert response.status_code == 302
    authorization = live(holder, desheng)
    pages = [
        reverse("home"),
        reverse("family:overview"),
        reverse("family:consents"),
        reverse("family:records"),
        reverse("family:authorization-detail", args=[authorization.public_id]),
        reverse("family:revoke", args=[authorization.public_id]),
        reverse("payments:premium-list"),
        reverse("payments:statement"),
    ]
    for page in pages:
        assert client.get(page).status_code == 200, page

    # R15: the holder revokes; both sides are told (inbox rows, written in the same commit);
    # the mail sweep cannot be enqueued, which is logged, and the change stands.
    response = client.post(
        reverse("family:revoke", args=[authorization.public_id]), {"reason": "Redis 停了也能解除"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("family:overview")
    assert client.get(response["Location"]).status_code == 200
    authorization.refresh_from_db()
    assert authorization.status == A.REVOKED
    told = Notification.objects.filter(
        kind=Notification.Kind.ENDED, key=f"authorization:{authorization.public_id}:ended"
    )
    assert sorted(told.values_list("recipient_id", flat=True)) == sorted([holder.pk, desheng.pk])
    assert enqueue_failures(caplog)


def test_a_member_answers_a_consent_request_without_redis(client, redis_down, caplog):
    # R8: the answer page is rate limited per login (django-ratelimit, in the cache).
    caplog.set_level(logging.ERROR, logger="portal.tasks")
    load_demo()
    cast = people()
    holder, spouse = cast["王建国"], cast["李秀英"]
    bind(holder, req(spouse, Relation.SPOUSE), at=timezone.now())
    authorization = live(holder, spouse)
    assert authorization.status == A.PENDING_CONSENT

    client.force_login(spouse.user)
    url = reverse("family:consent-answer", args=[authorization.public_id])
    assert client.get(url).status_code == 200
    response = client.post(url, {"password": CITIZEN_PASSWORD, "answer": AGREE})
    assert response.status_code == 302
    authorization.refresh_from_db()
    assert authorization.status in Authorization.GRANTED_STATUSES
    assert enqueue_failures(caplog)


def test_an_ended_window_is_refused_at_use_time_though_no_task_expired_it(redis_down):
    # R6, R14: use time reads the window; the stored status is what the task would change.
    load_demo()
    cast = people()
    father, mother, xiaoyan = cast["马志强"], cast["古丽娜"], cast["马小燕"]
    ended = live(father, xiaoyan)
    now = timezone.now()
    services.authorization_window_change(
        authorization=ended,
        window_start=None,
        window_end=now - dt.timedelta(seconds=3),
        signature=services.Signature(name=father.name),
        actor=father.user,
        channel=AuditEntry.Channel.ONLINE,
        at=now - dt.timedelta(minutes=1),
    )
    ended.refresh_from_db()
    assert ended.status == A.ACTIVE and ended.window_end < now  # no task ran

    usable = selectors.authorizations_usable_for(member=xiaoyan, at=now)
    assert [a.holder for a in usable] == [mother]

    hospital = Institution.objects.get(code="XJ-HOSP-001")
    settlement = settle(hospital, xiaoyan, "1000.00", at=now)
    # 马志强 pays first in 马小燕's order, but his window has ended: 古丽娜 (800.00), then cash.
    assert lines(settlement) == [("古丽娜", SettlementLine.Source.MUTUAL_AID, Decimal("800.00"))]
    assert settlement.cash_due == Decimal("200.00")
    ended.refresh_from_db()
    assert ended.status == A.ACTIVE  # still: only the task expires it, and it could not run
