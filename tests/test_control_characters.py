"""Issue 13 ("every input is hostile"): a control character in any form field, filter or query
parameter of the pages is refused as a whole, with a page that says so (400), before a view
reads it: NUL cannot be stored by PostgreSQL (a 500 where a form did not refuse it), and the
others corrupt CSV exports, letters and log lines. Tab and line breaks stay text. The API
refuses them in item names with its own code (tests/payments, tests/properties/test_api.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.middleware import CONTROL_CHARACTERS_REFUSED
from family.models import Authorization
from tests.properties.harness import changed, writes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f", "\x85", "\x9f"])
def test_a_control_character_in_a_posted_field_is_refused_and_changes_nothing(client, demo, char):
    client.force_login(demo["王建国"].user)
    authorization = Authorization.objects.get(holder=demo["王建国"], member=demo["王小明"])
    before = writes()
    response = client.post(
        reverse("family:revoke", args=[authorization.public_id]), {"reason": f"不再需要{char}"}
    )
    assert response.status_code == 400
    assert str(CONTROL_CHARACTERS_REFUSED) in response.content.decode()
    assert changed(before, writes()) == []
    authorization.refresh_from_db()
    assert authorization.status == Authorization.Status.ACTIVE


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("family:records", {"date_from": "2026-01-01\x00"}),
        ("payments:statement", {"kind": "credit\x1b"}),
        ("accounts:inbox", {"page": "\x00"}),
        ("accounts:login", {"next": "/family/\x00"}),
    ],
)
def test_a_control_character_in_a_query_parameter_is_refused(client, demo, name, query):
    client.force_login(demo["王建国"].user)
    response = client.get(reverse(name), query)
    assert response.status_code == 400
    assert str(CONTROL_CHARACTERS_REFUSED) in response.content.decode()


def test_a_control_character_in_a_field_name_is_refused(client, demo):
    response = client.post(reverse("accounts:login"), {"user\x00name": "x", "password": "y"})
    assert response.status_code == 400


def test_tab_and_line_breaks_are_text(client, demo):
    client.force_login(demo["王建国"].user)
    authorization = Authorization.objects.get(holder=demo["王建国"], member=demo["王小明"])
    response = client.post(
        reverse("family:revoke", args=[authorization.public_id]),
        {"reason": "第一行\r\n第二行\t完"},
    )
    assert response.status_code == 302
    authorization.refresh_from_db()
    assert authorization.status == Authorization.Status.REVOKED


def test_the_refusal_page_speaks_english_too(client, demo):
    client.cookies["django_language"] = "en"
    response = client.get(reverse("accounts:login"), {"next": "\x07"})
    assert response.status_code == 400
    assert "control characters" in response.content.decode()


def test_the_api_is_left_to_its_schema(client, demo):
    """The institution API answers in its own JSON shape, not with the 400 page."""
    response = client.get("/api/v1/settlements/x", {"q": "\x00"})
    assert response["Content-Type"].startswith("application/json")
