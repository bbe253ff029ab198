"""The staff pages of clearing (R27): positions and batches of the staff member's regions, one
batch with its lines and CSV, confirming one side; other regions' batches are 404, staff without
the permission get 403, and the query counts do not grow with the lines."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from family.models import Relation
from payments.models import Institution
from tests.clock import NOW
from tests.payments.builders import refund, settle
from tests.wallet.helpers import give, open_wallet
from wallet import services
from wallet.models import ClearingBatch
from wallet.services import clearing

pytestmark = pytest.mark.django_db

NIGHT = NOW + dt.timedelta(days=1)
# the export: session, user, the user's permissions (2), the user's regions, the batch with its
# two regions, then its lines with all they show, read through one server-side cursor; the same
# whatever the lines
CSV_QUERIES = 7


@pytest.fixture
def batch(demo):
    wang, mother = demo.people["王建国"], demo.people["王秀兰"]
    open_wallet(mother)
    give(wang, mother, "500.00", at=NOW)
    hospital = Institution.objects.get(code="HZ-HOSP-001")
    settlement = settle(hospital, mother, "300.00")
    refund(settlement, "100.00")
    [made] = clearing.clearing_run(at=NIGHT)
    return made


def html(response) -> str:
    return response.content.decode()


def test_the_supervisor_sees_nanjing_owing_hangzhou_200(client, demo, batch):
    client.force_login(demo.staff["js_super"])
    page = html(client.get(reverse("staff:clearing")))
    assert "江苏省南京市（320100）" in page
    assert "欠浙江省杭州市 200.00 元" in page
    assert reverse("staff:clearing-batch", args=[batch.public_id]) in page


def test_the_batch_page_lists_its_lines_and_the_csv_reconciles(client, demo, batch):
    client.force_login(demo.staff["js_super"])
    page = html(client.get(reverse("staff:clearing-batch", args=[batch.public_id])))
    assert "江苏省南京市应付浙江省杭州市" in page and "王*兰" in page
    assert "330102195004182022" not in page
    response = client.get(reverse("staff:clearing-csv", args=[batch.public_id]))
    assert response["Content-Type"] == "text/csv"
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    lines = [row for row in rows[1:] if row and row[1] in ("就医购药支付", "结算退款")]
    assert sorted(row[-1] for row in lines) == ["-100.00", "300.00"]
    assert rows[-1][-1] == "200.00"  # the net: the lines sum to it
    assert sum(float(row[-1]) for row in lines) == 200.0
    assert "330102195004182022" not in text


def test_confirming_one_side_then_the_other(client, demo, batch):
    client.force_login(demo.staff["js_super"])
    url = reverse("staff:clearing-confirm", args=[batch.public_id])
    client.post(url, {"side": "payer"})
    batch.refresh_from_db()
    assert batch.payer_confirmed_by == demo.staff["js_super"]
    again = client.post(url, {"side": "payer"}, follow=True)
    assert "本方已确认过该清算批次" in html(again)
    refused = client.post(url, {"side": "payee"}, follow=True)  # 杭州 is not hers
    assert "只能由该批次所涉统筹区的经办人员确认本方" in html(refused)
    batch.refresh_from_db()
    assert batch.status == ClearingBatch.Status.OPEN
    client.force_login(demo.staff["admin"])
    client.post(url, {"side": "payee"})
    batch.refresh_from_db()
    assert batch.status == ClearingBatch.Status.SETTLED


def test_scope_and_permissions(client, demo, batch):
    client.force_login(demo.staff["js_clerk"])  # no clearing permission
    assert client.get(reverse("staff:clearing")).status_code == 403
    client.force_login(demo.staff["xj_clerk"])
    assert client.get(reverse("staff:clearing")).status_code == 403
    demo.staff["xj_clerk"].user_permissions.add(
        *__import__(
            "django.contrib.auth.models", fromlist=["Permission"]
        ).Permission.objects.filter(codename="view_clearingbatch")
    )
    client.force_login(demo.staff["xj_clerk"])
    assert client.get(reverse("staff:clearing-batch", args=[batch.public_id])).status_code == 404
    assert "200.00" not in html(client.get(reverse("staff:clearing")))


def test_query_counts_do_not_grow_with_the_lines(
    client, demo, batch, django_assert_max_num_queries
):
    client.force_login(demo.staff["js_super"])
    for url in (reverse("staff:clearing"), reverse("staff:clearing-batch", args=[batch.public_id])):
        with django_assert_max_num_queries(16):
            assert client.get(url).status_code == 200
    # more lines: another spend and refund, in a new batch
    zhang, zhao = demo.people["张伟"], demo.people["赵敏"]
    open_wallet(zhang)
    give(zhao, zhang, "250.00", at=NOW, relation=Relation.SIBLING)
    hospital = Institution.objects.get(code="JS-HOSP-001")
    for amount in ("850.00", "10.00", "10.00", "10.00", "10.00"):  # 800 own + 50 wallet, then 10s
        settle(hospital, zhang, amount)
    [bigger] = clearing.clearing_run(at=NIGHT + dt.timedelta(hours=1))
    assert bigger.lines_count >= 5
    for url in (
        reverse("staff:clearing"),
        reverse("staff:clearing-batch", args=[bigger.public_id]),
    ):
        with django_assert_max_num_queries(16):
            assert client.get(url).status_code == 200


def test_the_csv_export_runs_the_same_queries_for_1_line_and_for_30(
    client, demo, django_assert_num_queries
):
    """A batch of one spend, one of one premium, then one of 30 lines (spends and refunds): the
    same queries for each export, and never more than CSV_QUERIES."""
    wang, mother, father = demo.people["王建国"], demo.people["王秀兰"], demo.people["王德胜"]
    open_wallet(mother)
    give(wang, mother, "500.00", at=NOW)
    hospital = Institution.objects.get(code="HZ-HOSP-001")
    settle(hospital, mother, "10.00")
    [spend] = clearing.clearing_run(at=NIGHT)
    open_wallet(father)  # 杭州's money pays his 南京 premium: 杭州 owes 南京
    give(demo.people["赵敏"], father, "400.00", relation=Relation.PATERNAL_GRANDPARENT, at=NOW)
    services.wallet_premium_pay(
        person=father, year=2027, idempotency_key="p", actor=father.user, at=NOW
    )
    [premium] = clearing.clearing_run(at=NIGHT + dt.timedelta(hours=1))
    small = [spend, premium]
    assert [batch.lines_count for batch in small] == [1, 1]
    client.force_login(demo.staff["js_super"])

    def export(batch) -> list[list[str]]:
        response = client.get(reverse("staff:clearing-csv", args=[batch.public_id]))
        assert response.status_code == 200 and response["Content-Type"] == "text/csv"
        return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))

    counts = set()
    for batch in small:
        with CaptureQueriesContext(connection) as one_line:
            assert len(export(batch)) == 4  # the header, the line, a blank row, the net
        counts.add(len(one_line))
    assert len(counts) == 1 and counts.pop() <= CSV_QUERIES
    spent = [settle(hospital, mother, "10.00") for _ in range(25)]
    for settlement in spent[:5]:
        refund(settlement, "10.00")
    [big] = clearing.clearing_run(at=NIGHT + dt.timedelta(hours=2))
    assert big.lines_count == 30
    with django_assert_num_queries(len(one_line)):
        rows = export(big)
    assert len(rows) == 33 and rows[-1][-1] == "200.00"  # 25 × 10.00 spent, 5 refunded
    assert sorted({row[1] for row in rows[1:31]}) == ["就医购药支付", "结算退款"]
