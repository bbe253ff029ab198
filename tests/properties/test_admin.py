"""The admin (django.contrib.admin, the bureau's console) attacked like the pages: for every
registered model, its list with hostile values for the filters its links offer (and the
generic query names), its add form and the change form of one object, as the superuser, who
reaches every field. Generated values only (the forms are long); the same assertions as
test_pages.py: no 5xx, nothing written by a GET or a refused POST."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl

import pytest
from django.contrib import admin
from django.urls import reverse

from .attack import attack
from .catalogue import Page

MODELS = sorted(admin.site._registry, key=lambda model: model._meta.label)
EXAMPLES = 6


def _filter_names(html: str) -> tuple[str, ...]:
    """The query parameters of the list's filter, sort and page links."""
    names = set()
    for query in re.findall(r'href="\?([^"#]*)"', html):
        names.update(name for name, _ in parse_qsl(unescape(query), keep_blank_values=True))
    return tuple(sorted(names))


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_the_admin_of_every_model(model, world, client, db):
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    client.force_login(world.users["admin"])
    changelist = client.get(reverse(f"{info}_changelist"))
    assert changelist.status_code == 200
    pages = [
        Page(
            f"{info}_changelist",
            "admin",
            examples=EXAMPLES,
            sweep=False,
            query_names=_filter_names(changelist.content.decode()),
        ),
        Page(f"{info}_add", "admin", examples=EXAMPLES, sweep=False),
    ]
    first = model._default_manager.order_by("pk").first()
    if first is not None:
        world.objects[f"admin:{model._meta.label}"] = first.pk
        pages.append(
            Page(
                f"{info}_change",
                "admin",
                f"admin:{model._meta.label}",
                examples=EXAMPLES,
                sweep=False,
            )
        )
    for page in pages:
        attack(client, world, page)
