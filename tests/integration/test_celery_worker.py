"""A real Celery worker against the real Redis (issue 5 acceptance): the expiry task is enqueued
through the broker, a worker takes it, and the database shows the authorization expired, the
system's audit entry and a notification to each side.

The worker runs in a thread of this process (`celery.contrib.testing.worker.start_worker`, solo
pool), so it uses the test database; `transactional_db` because it reads only committed rows.
Eager mode is off for this test only. The broker is the test one (Redis database 15, from
`portal.settings.test`) and the queue is this run's own, so a developer's `make run` worker never
takes the message and two runs at once never take each other's; the queue is deleted afterwards.

Redis must be there: CI starts it (`.ci/run`), and an unreachable broker fails this test rather
than skipping it."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from accounts.models import AuditEntry, Notification
from family import services
from family.models import Authorization
from family.tasks import run_lifecycle
from portal.celery import app as celery_app
from tests.demo import load_demo, people
from tests.family.builders import live

SYSTEM = AuditEntry.Channel.SYSTEM
WAIT = 30  # seconds the worker gets to take the message and commit


def _broker_must_answer() -> None:
    url = celery_app.conf.broker_url
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
        return
    except redis.RedisError as exc:
        error = exc
    pytest.fail(
        f"Redis is not reachable at {url} ({error}). This test needs the real broker: start "
        "Redis (.ci/run does) or point TEST_CELERY_BROKER_URL at one.",
        pytrace=False,
    )


@pytest.fixture
def worker_queue(transactional_db, settings):
    """A real worker consuming this run's own queue; every task this test sends goes there."""
    _broker_must_answer()
    queue = f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    # The Celery app reads the CELERY_ settings live from django.conf.settings, so the `settings`
    # fixture switches them for this test only (setting `app.conf.x` would not: the prefixed
    # Django setting is looked up first).
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # .delay() routes to the default queue: the test's, so the worker below is the only taker
    # (also of the mail sweep that the expiry asks for after its commit).
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    settings.CELERY_WORKER_ENABLE_REMOTE_CONTROL = False  # no pidbox queue: nothing asks it
    assert celery_app.conf.task_always_eager is False  # else .delay() would run it right here
    try:
        # No ping check: results are not kept (CELERY_TASK_IGNORE_RESULT), so there is no reply.
        with start_worker(
            celery_app,
            pool="solo",
            concurrency=1,
            queues=[queue],
            perform_ping_check=False,
            shutdown_timeout=30,
        ) as worker:
            yield worker
    finally:
        with celery_app.connection_for_write() as conn:
            # Declared on this channel first, so that the delete knows the binding and removes
            # it too; then nothing of this run stays in Redis, not even an unread message.
            bound = celery_app.amqp.queues[queue](conn.default_channel)
            bound.declare()
            bound.delete()


def _wait_for(predicate, *, timeout: float = WAIT):
    """Poll the database: the worker is another thread with its own connection, so this is the
    one place a test waits on the clock (it returns as soon as the change is committed)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_a_real_worker_expires_an_ended_window_and_tells_both_sides(worker_queue):
    load_demo()
    cast = people()
    holder, member = cast["王建国"], cast["王德胜"]
    authorization = live(holder, member)
    # A minute ago the holder shortened 王德胜's window (R7, a new signed letter) to end a few
    # seconds ago: an active authorization whose window has ended, which only the task ends.
    now = timezone.now()
    services.authorization_window_change(
        authorization=authorization,
        window_start=None,
        window_end=now - dt.timedelta(seconds=3),
        signature=services.Signature(name=holder.name),
        actor=holder.user,
        channel=AuditEntry.Channel.ONLINE,
        at=now - dt.timedelta(minutes=1),
    )
    authorization.refresh_from_db()
    assert authorization.status == Authorization.Status.ACTIVE
    assert not Notification.objects.filter(kind=Notification.Kind.EXPIRED).exists()

    run_lifecycle.delay()

    def expired():
        authorization.refresh_from_db()
        return authorization.status == Authorization.Status.EXPIRED

    assert _wait_for(expired), f"no worker expired the authorization within {WAIT} s"
    assert authorization.ended_at is not None and authorization.ended_at >= now

    entry = AuditEntry.objects.get(
        action="authorization.expire", object_id=str(authorization.public_id)
    )
    assert entry.channel == SYSTEM and entry.actor is None
    assert entry.before["status"] == Authorization.Status.ACTIVE
    assert entry.after["status"] == Authorization.Status.EXPIRED

    told = Notification.objects.filter(
        kind=Notification.Kind.EXPIRED, key=f"authorization:{authorization.public_id}:expired"
    )
    assert sorted(told.values_list("recipient_id", flat=True)) == sorted([holder.pk, member.pk])

    # The expiry asked for the mail sweep after its commit; the same worker ran it (the demo
    # people have no e-mail address, so the inbox keeps the notices and nothing is mailed).
    assert _wait_for(
        lambda: not told.filter(email_status=Notification.EmailStatus.PENDING).exists()
    ), f"the mail sweep did not run within {WAIT} s"
