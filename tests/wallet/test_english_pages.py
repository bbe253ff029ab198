"""The wallet pages in English (issue 15: zh-hans and English complete) that the other English
tests do not walk: the premium page, the close page, the counter pages (the staff person page's
wallet panel, opening and closing at the counter), the staff clearing pages, and the header rows
of the wallet history CSV and of the clearing batch CSV.

Each page is asked for in English the way the other tests ask (the language switch's POST) and
its visible text (text nodes, the title, and the words a screen reader reads out of attributes)
must hold no Chinese but the data: people's names and masked names, region and institution
names, the staff's display names, and the ledger's and the wallet's descriptions (written once,
in Chinese, as every page shows them). A CSV's header row holds no Chinese at all. The "中文"
button of the language switch (lang="zh-Hans") is the one Chinese word every page shows on
purpose."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from accounts.models import InsuredPerson, RegionPolicy, User
from family.models import Relation
from payments.models import Institution, LedgerTransaction
from tests.clock import NOW
from tests.payments.builders import refund, settle
from tests.wallet.helpers import ONLINE, give, open_wallet
from wallet import services
from wallet.models import Entry
from wallet.services import clearing

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
NIGHT = NOW + dt.timedelta(days=1)
PREMIUM, CLOSE, HISTORY_CSV = (
    reverse(f"wallet:{name}") for name in ("premium", "close", "history-csv")
)
# attributes whose words are shown or read out by a screen reader
SPOKEN = ("aria-label", "title", "placeholder", "alt")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class VisibleText(HTMLParser):
    """The words a reader meets: text outside script and style, the spoken attributes and the
    value of a submit button; not inside an element marked lang="zh…" (but for the page's own
    <html lang>, which is zh-Hans when the page is in Chinese)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self.hidden = 0  # depth inside script, style or a lang="zh…" element
        self.lang = ""  # the page's, from <html lang>

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang") or ""
        if self.hidden:
            self.hidden += tag not in VOID
            return
        marked = tag != "html" and (attributes.get("lang") or "").startswith("zh")
        if tag in ("script", "style") or marked:
            self.hidden += tag not in VOID
            return
        self.words += [attributes[name] or "" for name in SPOKEN if name in attributes]
        if tag == "input" and attributes.get("type") in ("submit", "button"):
            self.words.append(attributes.get("value") or "")

    def handle_endtag(self, tag):
        if self.hidden and tag not in VOID:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.words.append(data)


def data_words() -> list[str]:
    """What the database holds and a page shows as it is, longest first (so that 江苏省南京市
    goes before 南京市)."""
    words: set[str] = set()
    for person in InsuredPerson.objects.all():
        words |= {person.name, person.masked_name}
    for region in RegionPolicy.objects.all():
        words |= {f"{region.province_name}{region.name}", region.province_name, region.name}
    words |= set(Institution.objects.values_list("name", flat=True))
    words |= set(User.objects.values_list("first_name", flat=True))
    # the ledger's and the wallet's descriptions are written once, in Chinese, and shown as
    # written (as the statement and the history pages show them)
    words |= set(LedgerTransaction.objects.values_list("description", flat=True))
    words |= set(Entry.objects.values_list("description", flat=True))
    return sorted((word for word in words if word), key=len, reverse=True)


def chinese_left(text: str) -> list[str]:
    for word in data_words():
        text = text.replace(word, " ")
    return CJK.findall(text)


def untranslated(response, lang: str = "en") -> list[str]:
    """The Chinese of the page's visible text once the data is taken out; the page must be in
    `lang`."""
    assert response.status_code == 200
    parser = VisibleText()
    parser.feed(response.content.decode())
    parser.close()
    assert parser.lang == lang
    return chinese_left(" ".join(parser.words))


def header(response) -> list[str]:
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))
    return rows[0]


@pytest.fixture
def english(client):
    """The client speaks English (the language switch's POST, as a person does); the default
    language is put back afterwards, since the test client leaves the last request's active."""

    def switch():
        client.post(reverse("set_language"), {"language": "en", "next": "/"})

    yield switch
    translation.activate(settings.LANGUAGE_CODE)


def login(client, english, user):
    client.force_login(user)
    english()


def test_the_check_finds_what_is_left_in_chinese():
    """The check is not blind: it reads text and spoken attributes, skips the language switch's
    中文 and scripts, and takes the data out (so a page in Chinese fails it)."""
    parser = VisibleText()
    parser.feed(
        '<html lang="zh-Hans"><title>钱包</title><nav aria-label="语言">'
        '<button lang="zh-Hans">中文</button><button lang="en">English</button></nav>'
        '<script>var s = "脚本";</script>'
        '<input type="submit" value="确认"><img src="x" alt="图"><p>Balance 王建国</p>'
    )
    assert parser.lang == "zh-Hans"
    assert parser.words.count("English") == 1 and "中文" not in parser.words
    assert CJK.findall(" ".join(parser.words)) == ["钱包", "语言", "确认", "图", "王建国"]


def test_a_page_in_chinese_fails_the_check(client, demo):
    mother = demo["王秀兰"]
    open_wallet(mother)
    client.force_login(mother.user)  # the default language
    assert "关闭后会怎样" in untranslated(client.get(CLOSE), lang="zh-Hans")


# ---------------------------------------------------------------------------------------------
# the citizen's pages


@pytest.fixture
def at_now(time_machine):
    time_machine.move_to(NOW, tick=False)


def test_the_premium_page_with_its_checks_speaks_english(client, demo, english, at_now):
    father = demo["王德胜"]
    open_wallet(father)
    give(demo["王建国"], father, "500.00")
    login(client, english, father.user)
    response = client.get(PREMIUM)
    assert "400.00" in response.content.decode() and response.context["check"] is not None
    assert untranslated(response) == []


def test_the_premium_page_of_a_wallet_short_of_the_premium_speaks_english(
    client, demo, english, at_now
):
    father = demo["王德胜"]
    open_wallet(father)
    give(demo["王建国"], father, "100.00")
    login(client, english, father.user)
    assert untranslated(client.get(PREMIUM)) == []
    refused = client.post(PREMIUM, {"year": "2027", "confirm": "on", "key": "k"})
    assert refused.context["form"].non_field_errors()
    assert untranslated(refused) == []
    bad = client.post(PREMIUM, {"year": "1999", "key": "k"})
    assert bad.context["form"].errors
    assert untranslated(bad) == []


def test_the_premium_page_without_a_premium_or_a_wallet_speaks_english(
    client, demo, english, at_now
):
    mother = demo["王秀兰"]  # 杭州: no resident premium in the demo
    open_wallet(mother)
    login(client, english, mother.user)
    response = client.get(PREMIUM)
    assert response.context["year"] is None
    assert untranslated(response) == []
    login(client, english, demo["王丽"].user)  # no wallet
    assert untranslated(client.get(PREMIUM)) == []


def test_the_close_page_speaks_english(client, demo, english):
    mother = demo["王秀兰"]
    open_wallet(mother)
    login(client, english, mother.user)
    response = client.get(CLOSE)  # empty: the confirmation
    assert response.context["form"] is not None
    assert untranslated(response) == []
    give(demo["王建国"], mother, "100.00")
    refused = client.get(CLOSE)  # money in it: the refusal instead
    assert refused.context["page"].close_refusal is not None
    assert untranslated(refused) == []
    missing = client.post(CLOSE, {})
    assert untranslated(missing) == []


def test_the_close_page_of_a_wallet_never_opened_speaks_english(client, demo, english):
    login(client, english, demo["王建国"].user)
    assert untranslated(client.get(CLOSE)) == []


def test_the_history_csv_header_is_english(client, demo, english):
    mother = demo["王秀兰"]
    open_wallet(mother)
    give(demo["王建国"], mother, "500.00")
    login(client, english, mother.user)
    response = client.get(HISTORY_CSV)
    row = header(response)
    assert all(row) and CJK.findall(" ".join(row)) == [], row
    assert CJK.findall(response["Content-Disposition"]) == []


# ---------------------------------------------------------------------------------------------
# the counter (wallet/staff_views.py)


def counter(name, person) -> str:
    return reverse(f"staff:{name}", args=[person.public_id])


def send(sender, recipient, *, key, amount="100.00", at=NOW):
    transfer, _created = services.transfer_send(
        sender=sender,
        actor=sender.user,
        channel=ONLINE,
        recipient=recipient,
        relation=Relation.SPOUSE,
        amount=Decimal(amount),
        idempotency_key=key,
        at=at,
    )
    return transfer


def test_the_person_page_wallet_panel_speaks_english(client, demo, english):
    wang, li = demo["王建国"], demo["李秀英"]
    open_wallet(li)
    give(wang, li, "100.00", relation=Relation.SPOUSE, key="a")
    send(wang, li, key="b", amount="250.00", at=NOW + dt.timedelta(hours=1))
    login(client, english, demo.staff["js_clerk"])
    for person in (li, wang):  # an open wallet with holdings and transfers; none, with the link
        response = client.get(counter("person", person))
        assert "person-wallet-heading" in response.content.decode()
        assert untranslated(response) == [], person.name
    response = client.get(counter("wallet-transfers", li))
    assert untranslated(response) == []


def test_the_person_page_shows_the_refusal_to_open_in_english(client, demo, english):
    wang = demo["王建国"]
    RegionPolicy.objects.filter(pk=wang.region_id).update(wallet_enabled=False)
    login(client, english, demo.staff["js_clerk"])
    response = client.get(counter("person", wang))
    assert response.context["wallet_refusal"] is not None
    assert untranslated(response) == []


def test_the_counter_open_page_speaks_english(client, demo, english):
    wang, li = demo["王建国"], demo["李秀英"]
    open_wallet(li)
    login(client, english, demo.staff["js_clerk"])
    response = client.get(counter("wallet-open", wang))  # the form
    assert response.context["refusal"] is None
    assert untranslated(response) == []
    missing = client.post(counter("wallet-open", wang), {})
    assert missing.context["form"].errors
    assert untranslated(missing) == []
    refused = client.get(counter("wallet-open", li))  # already open: the refusal
    assert refused.context["refusal"] is not None
    assert untranslated(refused) == []


def test_the_counter_close_page_speaks_english(client, demo, english):
    wang, li = demo["王建国"], demo["李秀英"]
    open_wallet(wang)
    open_wallet(li)
    give(wang, li, "100.00", relation=Relation.SPOUSE)
    login(client, english, demo.staff["js_clerk"])
    response = client.get(counter("wallet-close", wang))  # empty: the form
    assert response.context["refusal"] is None
    assert untranslated(response) == []
    missing = client.post(counter("wallet-close", wang), {"documents_seen": []})
    assert missing.context["form"].errors
    assert untranslated(missing) == []
    refused = client.get(counter("wallet-close", li))  # money in it: the refusal
    assert refused.context["refusal"] is not None
    assert untranslated(refused) == []
    done = client.post(counter("wallet-close", wang), {"documents_seen": ["ss_card"]}, follow=True)
    assert done.redirect_chain == [(counter("person", wang), 302)]
    assert untranslated(done) == []  # the message on the person page


# ---------------------------------------------------------------------------------------------
# clearing


@pytest.fixture
def batch(demo):
    """The demo story's clearing: 南京 owes 杭州 200.00 (tests/wallet/test_clearing_views.py)."""
    wang, mother = demo["王建国"], demo["王秀兰"]
    open_wallet(mother)
    give(wang, mother, "500.00", at=NOW)
    settlement = settle(Institution.objects.get(code="HZ-HOSP-001"), mother, "300.00")
    refund(settlement, "100.00")
    [made] = clearing.clearing_run(at=NIGHT)
    return made


def test_the_clearing_list_speaks_english(client, demo, english, batch):
    login(client, english, demo.staff["js_super"])
    response = client.get(reverse("staff:clearing"))
    assert reverse("staff:clearing-batch", args=[batch.public_id]) in response.content.decode()
    assert untranslated(response) == []


def test_the_clearing_list_without_batches_speaks_english(client, demo, english):
    login(client, english, demo.staff["js_super"])
    assert untranslated(client.get(reverse("staff:clearing"))) == []


def test_the_batch_page_speaks_english(client, demo, english, batch):
    login(client, english, demo.staff["js_super"])
    url = reverse("staff:clearing-batch", args=[batch.public_id])
    response = client.get(url)
    assert response.context["sides"] == ["payer"]
    assert untranslated(response) == []
    confirmed = client.post(
        reverse("staff:clearing-confirm", args=[batch.public_id]), {"side": "payer"}, follow=True
    )
    assert confirmed.redirect_chain == [(url, 302)]
    assert untranslated(confirmed) == []  # the message, the date it was confirmed


def test_the_batch_csv_is_english_but_for_the_data(client, demo, english, batch):
    login(client, english, demo.staff["js_super"])
    response = client.get(reverse("staff:clearing-csv", args=[batch.public_id]))
    row = header(response)
    assert all(row) and CJK.findall(" ".join(row)) == [], row
    text = response.content.decode("utf-8")
    assert chinese_left(text) == []  # the kinds and the net row's label too
    assert CJK.findall(response["Content-Disposition"]) == []
