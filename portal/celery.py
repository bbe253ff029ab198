"""The Celery app (issue 5): broker Redis, no result backend, tasks found in the apps' `tasks.py`,
schedules in django-celery-beat (rows staff edit in the admin; defaults made by migrations).

Run exactly one beat process (`make run` does, through honcho and the Procfile); never `worker -B`
outside a quick local try."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")

app = Celery("portal", task_cls="portal.tasks:PortalTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
