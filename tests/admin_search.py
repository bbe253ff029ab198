"""The admin's search as staff use it now (issue 13 point 15): the search box POSTs the term to
`admin:search`, which keeps it in the session and redirects to the changelist with a token."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse


def admin_search(client, changelist_url: str, term: str, **params):
    """The changelist as it answers a search for `term` typed into its search box."""
    target = changelist_url + (f"?{urlencode(params)}" if params else "")
    response = client.post(reverse("admin:search"), {"q": term, "next": target})
    assert response.status_code == 302, response
    assert term not in response["Location"] or not term.strip()
    return client.get(response["Location"])


def autocomplete(client, term: str, **params):
    """An autocomplete field's request, as the project's autocomplete.js sends it (POST)."""
    return client.post(reverse("admin:autocomplete"), {"term": term, **params})
