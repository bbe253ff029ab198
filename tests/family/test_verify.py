"""The public check page /verify/<code> (issue 7 point 3, R7): key facts masked, whether the letter
is still in force, whether the stored text still matches its content hash; unknown and malformed
codes are the same plain 404; rate-limited per client address; a constant number of queries.

Letters are signed through the real services; tampering is simulated by switching the letter
table's immutability trigger off inside the test's own transaction (rolled back after it)."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from family import services
from family.models import Authorization, CommitmentLetter, Relation
from family.views.letters import VERIFY_RATE
from tests.clock import NOW
from tests.family.letter_helpers import bind_eight, register

# The letter with its holder, region, relationship and the id of the relationship's newest
# letter; the letter's authorizations with their people. Anonymous: no session, no user.
VERIFY_QUERIES = 2
INTACT = "内容完整，未被篡改"
TAMPERED = "存储的文本与签署时的内容摘要不一致"
TRIGGER = "family_commitmentletter_immutable"  # family/migrations/0002_letter_append_only.py


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    """The rate limit counts in the cache (locmem in tests): each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def _letter(holder) -> CommitmentLetter:
    return CommitmentLetter.objects.filter(holder=holder).order_by("-signed_at", "-pk").first()


def _url(code: str) -> str:
    return reverse("verify", args=[code])


def _page(client, code: str) -> str:
    response = client.get(_url(code))
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_shows_the_letters_key_facts_masked_without_a_login(client, demo):
    wang = demo["王建国"]
    letter = _letter(wang)

    page = _page(client, letter.verification_code)

    assert "家庭关系承诺书" in page and "建立家庭共济关系" in page
    assert f"{timezone.localtime(letter.signed_at):%Y-%m-%d}" in page
    assert "网上服务" in page
    assert "王*国" in page and wang.masked_id_number in page
    assert "南京市" in page
    assert "王*明" in page and "王*胜" in page
    assert "子女" in page and "父母" in page
    assert "自2025年01月01日 00:00:00起，长期有效，至解除授权为止" in page
    assert "至2026年12月31日 23:59:59止" in page
    assert letter.content_hash in page
    # Nobody's whole name or identity number.
    for person in (wang, demo["王小明"], demo["王德胜"]):
        assert person.name not in page
        assert person.id_number not in page


def test_an_intact_letter_in_force_says_so(client, demo):
    page = _page(client, _letter(demo["王建国"]).verification_code)

    assert INTACT in page and TAMPERED not in page
    assert "✓ 有效" in page
    assert "2 名成员的授权仍在有效期内或待生效" in page
    assert page.count("已授权") == 2


def test_the_code_is_read_in_any_case_and_with_spaces(client, demo):
    code = _letter(demo["王建国"]).verification_code

    assert INTACT in _page(client, f" {code.lower()} ")


def test_a_tampered_stored_text_is_reported(client, demo):
    letter = _letter(demo["王建国"])
    with connection.cursor() as cursor:
        # The table refuses UPDATE (R7); switched off only inside this test's transaction (the
        # deferred foreign-key checks of the rows just written run first: ALTER TABLE wants none
        # pending).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE family_commitmentletter DISABLE TRIGGER {TRIGGER}")
        cursor.execute(
            "UPDATE family_commitmentletter SET text = replace(text, '王德胜', '王德利') "
            "WHERE id = %s",
            [letter.pk],
        )
        cursor.execute(f"ALTER TABLE family_commitmentletter ENABLE TRIGGER {TRIGGER}")

    page = _page(client, letter.verification_code)

    assert TAMPERED in page and INTACT not in page
    assert 'role="alert"' in page


def test_the_immutability_trigger_is_back_on_after_the_tampering_test(demo):
    from django.db import DatabaseError, transaction

    letter = _letter(demo["王建国"])
    with pytest.raises(DatabaseError), transaction.atomic():
        CommitmentLetter.objects.filter(pk=letter.pk).update(text="改")


def test_a_letter_replaced_by_a_newer_one_is_no_longer_in_force(client, demo):
    wang = demo["王建国"]
    old = _letter(wang)
    child = register(wang.region, "王小红", NOW.date().replace(year=2016))
    new = services.relationship_bind(
        holder=wang,
        members=[services.MemberRequest(child, Relation.CHILD, None, None)],
        signature=services.Signature(name=wang.name),
        actor=wang.user,
        channel=AuditEntry.Channel.ONLINE,
        at=NOW,
    )

    old_page = _page(client, old.verification_code)
    assert "已被新的承诺书取代" in old_page and "✓ 有效" not in old_page
    assert INTACT in old_page
    new_page = _page(client, new.verification_code)
    assert "✓ 有效" in new_page and "3 名成员" in new_page


def test_a_letter_of_an_ended_relationship_says_so(client, demo):
    wang = demo["王建国"]
    letter = _letter(wang)
    services.relationship_end(
        relationship=letter.relationship, actor=wang.user, channel=AuditEntry.Channel.ONLINE
    )

    page = _page(client, letter.verification_code)

    assert "家庭共济关系已终止" in page and "✓ 有效" not in page


def test_each_member_shows_the_state_of_its_authorization(client, demo):
    wang = demo["王建国"]
    letter = _letter(wang)
    desheng = letter.authorizations.get(member__name="王德胜")
    services.authorization_revoke(
        authorization=desheng, actor=wang.user, channel=AuditEntry.Channel.ONLINE
    )

    page = _page(client, letter.verification_code)

    # Revoking a member signs no new letter: this one stays the newest, one member still live.
    assert "1 名成员的授权仍在有效期内" in page
    assert str(Authorization.Status.REVOKED.label) in page


# ---------------------------------------------------------------------------------------------
# unknown and malformed codes: nothing revealed


def _normalized_404(response) -> str:
    """The 404 body without what differs between two requests anyway: the path echoed in the
    language form and the per-request CSRF token."""
    body = response.content.decode()
    body = re.sub(r'name="next" value="/verify/[^"]*"', "PATH", body)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", body)


@pytest.mark.parametrize(
    "code",
    [
        "22222222222Z",  # well formed, unknown
        "ABC",  # too short
        "0OIL0OIL0OIL",  # letters the alphabet leaves out
        "ABCDEFGHJKMNP",  # too long
        "%27%20or%201=1",  # not a code at all
    ],
)
def test_unknown_and_malformed_codes_are_the_same_plain_404(client, demo, code):
    known = _letter(demo["王建国"])
    assert code != known.verification_code

    response = client.get(_url(code))
    reference = client.get(_url("22222222222Y"))

    assert response.status_code == 404 == reference.status_code
    assert _normalized_404(response) == _normalized_404(reference)
    body = response.content.decode()
    assert "页面不存在" in body
    for secret in ("王", "承诺书", known.content_hash, "有效"):
        assert secret not in body


def test_the_page_is_rate_limited_per_client_address(client, demo):
    code = _letter(demo["王建国"]).verification_code
    limit = int(VERIFY_RATE.split("/")[0])

    # The limit counts in fixed windows: time stands still so that no window ends mid-test.
    with time_machine.travel(NOW, tick=False):
        statuses = [client.get(_url(code)).status_code for _ in range(limit)]
        assert statuses == [200] * limit
        assert client.get(_url("22222222222Z")).status_code == 429
        assert client.get(_url(code)).status_code == 429
        # Another address still gets through.
        assert client.get(_url(code), REMOTE_ADDR="10.0.0.9").status_code == 200


def test_the_page_is_kept_out_of_caches_and_search_engines(client, demo):
    response = client.get(_url(_letter(demo["王建国"]).verification_code))

    assert "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"


# ---------------------------------------------------------------------------------------------
# queries


def test_the_page_runs_a_constant_number_of_queries_whatever_the_members(
    client, demo, django_assert_num_queries
):
    small = _letter(demo["王建国"])
    large = bind_eight(demo["张伟"], at=NOW)

    for letter in (small, large):
        with django_assert_num_queries(VERIFY_QUERIES):
            page = _page(client, letter.verification_code)
        assert page.count("<tr>") == letter.authorizations.count() + 1


def test_a_malformed_code_costs_no_query(client, demo, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get(_url("not-a-code")).status_code == 404
