"""Issue 13 point 14: a Content-Security-Policy on every page, and pages with personal data never
cached (`Cache-Control: no-store`). The templates hold nothing the policy would refuse (no inline
script, no event-handler attribute, no style attribute): checked over every template, so a new
page cannot bring one back unnoticed; the browser tests also fail on any violation reported."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


PUBLIC = ["home", "accounts:login", "accounts:activate"]
CITIZEN = [
    "family:overview",
    "family:records",
    "payments:statement",
    "accounts:inbox",
    "wallet:overview",
    "wallet:open",
]


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_page_has_the_policy(client, demo, name):
    response = client.get(reverse(name))
    policy = _policy(response)
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, ever
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("name", CITIZEN)
def test_pages_with_personal_data_are_never_stored(client, demo, name):
    client.force_login(demo["王建国"].user)
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert "Content-Security-Policy" in response


def test_the_statement_csv_is_never_stored(client, demo):
    client.force_login(demo["王建国"].user)
    response = client.get(reverse("payments:statement-csv"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_staff_and_admin_pages_have_the_policy_and_are_never_stored(client, demo):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="js_clerk"))
    for url in ["/staff/", "/admin/", "/admin/family/commitmentletter/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
        assert _policy(response)["script-src"] == ["'self'"], url


def test_a_letter_print_page_styles_with_its_nonce_only(client, demo):
    from family.models import CommitmentLetter

    letter = CommitmentLetter.objects.filter(holder=demo["王建国"]).first()
    client.force_login(demo["王建国"].user)
    response = client.get(reverse("family:letter-print", args=[letter.public_id]))
    nonces = [n for n in _policy(response)["style-src"] if n.startswith("'nonce-")]
    assert len(nonces) == 1
    nonce = nonces[0][len("'nonce-") : -1]
    styles = re.findall(r"<style([^>]*)>", response.content.decode())
    assert styles and all(f'nonce="{nonce}"' in attrs for attrs in styles)


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
UNNONCED_STYLE = re.compile(r"<style(?![^>]*\bnonce=)[^>]*>")
PDF_ONLY = {"payments/premium_proof_pdf.html", "partials/pdf_fonts.html"}  # WeasyPrint, no browser


def test_no_template_holds_what_the_policy_refuses():
    found = []
    for path in TEMPLATES.rglob("*.html"):
        name = path.relative_to(TEMPLATES).as_posix()
        text = path.read_text()
        for pattern, what in [(INLINE_SCRIPT, "inline script"), (HANDLER, "event handler"),
                              (STYLE_ATTRIBUTE, "style attribute")]:  # fmt: skip
            if pattern.search(text):
                found.append(f"{name}: {what}")
        if name not in PDF_ONLY and UNNONCED_STYLE.search(text):
            found.append(f"{name}: <style> without the nonce")
    assert found == []


def test_report_only_is_for_local_tools_and_refused_in_production():
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.production", SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="h", DATABASE_URL="postgres://postgres@127.0.0.1:5432/portal",
        REDIS_URL="redis://127.0.0.1:6379/0", CSP_REPORT_ONLY="1",
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "CSP_REPORT_ONLY must not be set" in result.stderr
