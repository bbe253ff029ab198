"""The base class of every task: enqueueing after commit never breaks the request that commits.

`delay_on_commit` is Celery's (`celery.contrib.django.task.DjangoTask`), made robust: the message
leaves after the transaction commits, and a broker that cannot be reached (Redis stopped, a wrong
`REDIS_URL`) is logged instead of turning a committed change into an error page. Nothing is lost:
what the task would do is also picked up by the periodic sweep (pending e-mails every minute,
expiry every minute), and use-time checks never wait for a task."""

from __future__ import annotations

import logging

from celery.contrib.django.task import DjangoTask
from django.db import transaction

logger = logging.getLogger("portal.tasks")


class PortalTask(DjangoTask):
    def delay_on_commit(self, *args, **kwargs) -> None:
        transaction.on_commit(lambda: self.enqueue(*args, **kwargs))

    def apply_async_on_commit(self, args=None, kwargs=None, **options) -> None:
        transaction.on_commit(lambda: self.enqueue_with(args, kwargs, **options))

    def enqueue(self, *args, **kwargs) -> bool:
        return self.enqueue_with(args, kwargs)

    def enqueue_with(self, args=None, kwargs=None, **options) -> bool:
        """Publish now; False (and an error in the log) when the broker is unreachable."""
        try:
            self.apply_async(args, kwargs, **options)
        except Exception:  # kombu/redis raise several types; none may reach the citizen
            logger.exception(
                "Could not enqueue task %s; the periodic sweep will catch up", self.name
            )
            return False
        return True
