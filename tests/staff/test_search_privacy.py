"""Searches by identity number keep the number out of URLs (issue 6): the person search and the
audit filters are POSTed, kept in the session under a random token, and shown at ?s=<token>, so
neither page links, nor a shared counter PC's browser history, nor access logs hold the number."""

from __future__ import annotations

import csv
import io

from django.urls import reverse


def test_person_search_by_number_redirects_to_a_token_without_the_number(client, demo):
    wang = demo["王建国"]
    client.force_login(demo.staff["js_clerk"])
    response = client.post(reverse("staff:person-search"), {"q": wang.id_number})
    assert response.status_code == 302
    location = response["Location"]
    assert wang.id_number not in location and wang.id_number[:6] not in location
    assert location.startswith(reverse("staff:person-search") + "?s=")
    page = client.get(location)
    assert [p.pk for p in page.context["persons"]] == [wang.pk]
    body = page.content.decode()
    assert wang.id_number not in body  # not even in the search box: masked or blank
    assert reverse("staff:person", args=[wang.public_id]) in body


def test_a_token_is_good_only_in_the_session_that_made_it(client, demo, django_user_model):
    client.force_login(demo.staff["js_clerk"])
    location = client.post(reverse("staff:person-search"), {"q": "王"})["Location"]
    assert client.get(location).context["persons"]
    client.force_login(demo.staff["js_super"])  # a new session
    assert client.get(location).context["persons"] is None


def test_an_empty_search_is_refused_on_the_page(client, demo):
    client.force_login(demo.staff["js_clerk"])
    response = client.post(reverse("staff:person-search"), {"q": "  "})
    assert response.status_code == 200
    assert response.context["form"].errors["q"]


def test_audit_filters_are_posted_and_the_export_follows_the_token(client, demo):
    wang = demo["王建国"]
    client.force_login(demo.staff["js_super"])
    response = client.post(reverse("staff:audit"), {"person": wang.id_number})
    assert response.status_code == 302
    assert wang.id_number not in response["Location"]
    page = client.get(response["Location"])
    assert page.context["rows"]
    assert {row.entry.person_id for row in page.context["rows"]} == {wang.pk}
    token = response["Location"].split("?s=")[1]
    assert page.context["export_query"] == f"s={token}"
    export = client.get(reverse("staff:audit-export") + "?" + page.context["export_query"])
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))[1:]
    assert rows
    assert {row[6] for row in rows} == {f"王建国（{wang.masked_id_number}）"}


def test_invalid_audit_filters_are_shown_without_a_redirect(client, demo):
    client.force_login(demo.staff["js_super"])
    response = client.post(reverse("staff:audit"), {"person": "12345"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert response.context["rows"] is None
