"""The admin's search and autocomplete in a browser (issue 13 point 15): whatever staff type,
no request the browser makes carries it in its URL, and the results still come."""

from __future__ import annotations

import pytest

from accounts.demo import STAFF_PASSWORD

from .conftest import check_page, csp_violations, shot

pytestmark = pytest.mark.e2e

WANG = "32010219750312123X"


def _admin_login(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_load_state("networkidle")


def test_admin_search_and_autocomplete_keep_what_is_typed_out_of_urls(desktop, live_demo):
    base, page = live_demo.url, desktop
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))

    _admin_login(page, base, "js_clerk")
    page.goto(f"{base}/admin/accounts/insuredperson/")
    page.locator("#searchbar").fill(WANG)
    page.locator("#changelist-search input[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "1975" not in page.url and "q=~" in page.url
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "王建国" in rows.first.inner_text()
    assert page.locator("#searchbar").input_value() == "3201**********123X"
    check_page(page, "admin-search-result")

    # An autocomplete field (the ward of a guardianship, as the superuser adds one).
    _admin_login(page, base, "admin")
    page.goto(f"{base}/admin/family/guardianship/add/")
    page.locator("#id_ward").locator("xpath=following-sibling::span[1]").click()
    # Opening the list asks for every choice; wait for the answer to what was typed (a whole
    # identity number: the admin finds people by exact number or by name, never by a prefix).
    typed = "320111194801051113"
    with page.expect_response(
        lambda r: "/admin/autocomplete/" in r.url and typed in (r.request.post_data or ""),
        timeout=30_000,
    ) as found:
        page.locator(".select2-search__field").fill(typed)
    answer = found.value
    assert answer.status == 200, answer.text()
    assert [row["text"][:3] for row in answer.json()["results"]] == ["王德胜"]
    option = page.locator(".select2-results__option", has_text="王德胜")
    option.wait_for(timeout=30_000)
    # Django's own select2 markup fails axe (labels, ARIA of the widget): the admin is Django's,
    # not the portal's pages, so only the screenshot and the policy are checked here.
    shot(page, "admin-autocomplete")
    assert csp_violations(page) == []
    option.click()
    assert page.locator("#id_ward").input_value()

    leaked = [url for url in urls if "1975" in url or "320111194801" in url or "王" in url]
    assert leaked == []
