"""Issue 13 point 15, the admin's half: a search typed into the Django admin never travels in a
URL. The changelist's search box POSTs and the changelist is reached with a token; the
autocomplete fields POST their term; a raw ?q= or ?term= is not searched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from accounts.admin_site import SEARCH_BY_FORM
from tests.admin_search import admin_search, autocomplete

pytestmark = pytest.mark.django_db

PERSONS = "/admin/accounts/insuredperson/"
WANG = "32010219750312123X"


def _names(response) -> set[str]:
    return {p.name for p in response.context["cl"].result_list}


def test_the_search_box_posts_to_the_search_view(client, demo):
    client.force_login(demo.staff["js_clerk"])
    page = client.get(PERSONS).content.decode()
    form = re.search(r'<form id="changelist-search"[^>]*>', page).group(0)
    assert 'method="post"' in form and f'action="{reverse("admin:search")}"' in form
    assert 'name="csrfmiddlewaretoken"' in page


def test_a_search_reaches_the_changelist_by_token_with_the_same_results(client, demo):
    client.force_login(demo.staff["js_clerk"])
    posted = client.post(reverse("admin:search"), {"q": WANG, "next": f"{PERSONS}?o=1"})
    assert posted.status_code == 302
    location = posted["Location"]
    assert WANG not in location and "1975" not in location
    assert location.startswith(PERSONS + "?") and "o=1" in location and "q=~" in location
    page = client.get(location)
    assert _names(page) == {"王建国"}
    assert 'value="3201**********123X"' in page.content.decode()  # shown back masked
    assert _names(admin_search(client, PERSONS, "王德")) == {"王德胜"}


def test_staff_of_another_region_find_nobody_by_the_same_search(client, demo):
    client.force_login(demo.staff["xj_clerk"])
    assert _names(admin_search(client, PERSONS, WANG)) == set()


def test_a_raw_q_in_the_url_searches_nothing_and_says_so(client, demo):
    """Regression: a hand-made ?q=<identity number> used to search (and sat in the access log)."""
    client.force_login(demo.staff["js_clerk"])
    response = client.get(PERSONS, {"q": WANG})
    assert response.status_code == 200
    assert _names(response) == set()
    assert str(SEARCH_BY_FORM) in response.content.decode()


def test_a_token_of_another_session_searches_nothing(demo):
    mine, theirs = Client(), Client()
    mine.force_login(demo.staff["js_clerk"])
    theirs.force_login(demo.staff["js_super"])
    location = mine.post(reverse("admin:search"), {"q": WANG, "next": PERSONS})["Location"]
    assert _names(theirs.get(location)) == set()


def test_the_search_view_only_goes_back_to_this_site(client, demo):
    client.force_login(demo.staff["js_clerk"])
    for target in ["https://evil.example/admin/", "//evil.example/", "javascript:alert(1)", ""]:
        response = client.post(reverse("admin:search"), {"q": "王", "next": target})
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/"), target
    assert client.get(reverse("admin:search")).status_code == 405


def test_the_search_view_needs_a_staff_login(client, demo):
    response = client.post(reverse("admin:search"), {"q": WANG, "next": PERSONS})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_autocomplete_answers_a_post_in_scope(client, demo):
    client.force_login(demo.staff["js_clerk"])
    params = {"app_label": "family", "model_name": "guardianship", "field_name": "ward"}
    found = autocomplete(client, WANG, **params).json()["results"]
    assert [r["text"] for r in found] == ["王建国（3201**********123X）"]
    client.force_login(demo.staff["xj_clerk"])
    assert autocomplete(client, WANG, **params).json()["results"] == []


def test_autocomplete_refuses_a_term_in_the_url(client, demo):
    """Regression: select2 sent ?term=<what the clerk typed> on every keystroke."""
    client.force_login(demo.staff["js_clerk"])
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "family", "model_name": "guardianship", "field_name": "ward", "term": WANG},
    )
    assert response.status_code == 405


def test_autocomplete_needs_the_csrf_token(demo):
    client = Client(enforce_csrf_checks=True)
    client.force_login(demo.staff["js_clerk"])
    response = client.post(
        reverse("admin:autocomplete"),
        {"app_label": "family", "model_name": "guardianship", "field_name": "ward", "term": "王"},
    )
    assert response.status_code == 403


def test_the_project_autocomplete_script_posts_with_the_token(client, demo):
    from django.contrib.staticfiles import finders

    path = finders.find("admin/js/autocomplete.js")
    assert path.endswith("static/admin/js/autocomplete.js") and "site-packages" not in path
    script = Path(path).read_text(encoding="utf-8")
    assert "type: 'POST'" in script and "X-CSRFToken" in script


def test_searching_again_with_the_masked_number_shown_keeps_the_search(client, demo):
    client.force_login(demo.staff["js_clerk"])
    first = client.post(reverse("admin:search"), {"q": WANG, "next": PERSONS})["Location"]
    again = client.post(reverse("admin:search"), {"q": "3201**********123X", "next": first})
    assert again["Location"] == first
    assert _names(client.get(again["Location"])) == {"王建国"}
