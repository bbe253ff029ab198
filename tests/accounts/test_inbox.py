"""站内信 (issue 5): my inbox only, 404 for anyone else's message, read state, the header badge,
English rendering and query counts that do not grow with the number of messages."""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts import notices, selectors
from accounts.models import Notification, User
from accounts.services import Notice, notifications_send
from accounts.views import ALL_MARKED_READ, INBOX_PER_PAGE
from tests.admin_search import admin_search

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 11, 1, 0, 0, tzinfo=SHANGHAI)
INBOX = reverse("accounts:inbox")
READ_ALL = reverse("accounts:inbox-read-all")

# Query budgets, measured: session, user, person, count, page rows, header count.
LIST_QUERIES = 6
DETAIL_QUERIES = 5  # session, user, the message, mark it read, header count


def _send(person, *, n=1, member="王*明", kind=Notification.Kind.STARTED, link="/family/records/"):
    """`n` notifications to `person`, one minute apart (the last is newest)."""
    for i in range(n):
        notifications_send(
            notices=[
                Notice(
                    recipient_id=person.pk,
                    kind=kind,
                    key=f"test:{uuid.uuid4()}",
                    params={
                        "holder": "王*国",
                        "member": member,
                        "relation": "子女",
                        "start": notices.iso(START),
                        "role": notices.HOLDER,
                    },
                    link=link,
                )
            ],
            at=START + dt.timedelta(minutes=i),
        )
    return list(Notification.objects.filter(recipient=person))


def _html(response) -> str:
    return response.content.decode()


def _detail(notification) -> str:
    return reverse("accounts:inbox-detail", args=[notification.public_id])


@pytest.fixture
def wang(client, demo_accounts):
    client.force_login(demo_accounts["王建国"].user)
    return demo_accounts["王建国"]


# ---------------------------------------------------------------------------------------------
# the list


def test_inbox_lists_only_my_messages(client, demo_accounts, wang):
    _send(wang, n=2, member="王*明")
    _send(demo_accounts["李秀英"], member="李*英的孩子")
    html = _html(client.get(INBOX))
    assert html.count("您为王*明（子女）设立的共济授权已于2026-11-01 00:0") == 2
    assert "李*英的孩子" not in html
    assert "共济授权开始生效" in html  # the title


def test_unread_messages_are_marked_with_words_and_bold(client, wang):
    read, unread = _send(wang, n=2)  # newest first: `read` is the newer one
    client.get(_detail(read))
    html = _html(client.get(INBOX))
    assert html.count(">未读</span>") == 1
    assert html.count("fw-bold") == 1
    assert html.index(str(read.public_id)) < html.index(str(unread.public_id))  # newest first


def test_inbox_is_paginated_by_twenty(client, wang):
    _send(wang, n=INBOX_PER_PAGE + 5)
    first = _html(client.get(INBOX))
    second = _html(client.get(INBOX, {"page": 2}))
    assert first.count('class="card mb-3 inbox-item') == INBOX_PER_PAGE
    assert second.count('class="card mb-3 inbox-item') == 5
    assert 'aria-current="page"' in second


def test_empty_inbox_says_so(client, wang):
    html = _html(client.get(INBOX))
    assert "您还没有站内信" in html
    assert "全部标为已读" not in html


def test_inbox_needs_a_login(client, demo_accounts):
    response = client.get(INBOX)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_staff_have_an_empty_inbox_and_no_badge(client, demo_accounts, django_assert_num_queries):
    staff = User.objects.get(username="js_clerk")
    _send(demo_accounts["王建国"])
    client.force_login(staff)
    html = _html(client.get(INBOX))
    assert "本账号没有关联参保人" in html
    assert "inbox-badge" not in html
    with django_assert_num_queries(0):
        assert selectors.unread_count_for(user=staff) == 0


def test_list_queries_do_not_grow_with_the_messages(client, wang, django_assert_max_num_queries):
    _send(wang, n=2)
    with django_assert_max_num_queries(LIST_QUERIES):
        assert client.get(INBOX).status_code == 200
    _send(wang, n=INBOX_PER_PAGE + 10)
    with django_assert_max_num_queries(LIST_QUERIES):
        assert client.get(INBOX, {"page": 2}).status_code == 200


# ---------------------------------------------------------------------------------------------
# one message


def test_opening_my_message_shows_it_and_marks_it_read(client, wang):
    (item,) = _send(wang)
    html = _html(client.get(_detail(item)))
    assert "共济授权开始生效" in html
    assert "您为王*明（子女）设立的共济授权" in html
    assert 'href="/family/records/"' in html
    assert "查看详情" in html
    item.refresh_from_db()
    assert item.read_at is not None


def test_opening_twice_keeps_the_first_read_time(client, wang):
    (item,) = _send(wang)
    client.get(_detail(item))
    item.refresh_from_db()
    first = item.read_at
    client.get(_detail(item))
    item.refresh_from_db()
    assert item.read_at == first


def test_someone_elses_message_is_404_and_stays_unread(client, demo_accounts, wang):
    (theirs,) = _send(demo_accounts["李秀英"])
    assert client.get(_detail(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_unknown_or_garbage_id_is_404(client, wang):
    assert client.get(reverse("accounts:inbox-detail", args=[uuid.uuid4()])).status_code == 404
    assert client.get(INBOX + "not-a-uuid/").status_code == 404
    with pytest.raises(Http404):
        selectors.notification_get_for_user(user=wang.user, public_id="not-a-uuid")


def test_anonymous_never_gets_a_message_of_someone_without_a_login(client, demo_accounts):
    (item,) = _send(demo_accounts["王小明"])  # not activated: recipient__user_id is NULL
    with pytest.raises(Http404):
        selectors.notification_get_for_user(user=AnonymousUser(), public_id=item.public_id)


def test_a_link_that_is_not_a_site_path_is_not_shown(client, wang):
    (item,) = _send(wang, link="https://evil.example/")
    html = _html(client.get(_detail(item)))
    assert "evil.example" not in html
    assert "查看详情" not in html


def test_detail_queries(client, wang, django_assert_max_num_queries):
    items = _send(wang, n=30)
    with django_assert_max_num_queries(DETAIL_QUERIES):
        assert client.get(_detail(items[0])).status_code == 200
    with django_assert_max_num_queries(DETAIL_QUERIES - 1):  # already read: no update
        assert client.get(_detail(items[0])).status_code == 200


# ---------------------------------------------------------------------------------------------
# 全部标为已读


def test_mark_all_read(client, demo_accounts, wang):
    _send(wang, n=3)
    (theirs,) = _send(demo_accounts["李秀英"])
    response = client.post(READ_ALL, follow=True)
    assert str(ALL_MARKED_READ) in _html(response)
    assert not Notification.objects.filter(recipient=wang, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read_is_a_post_protected_by_csrf(demo_accounts):
    wang = demo_accounts["王建国"]
    _send(wang, n=2)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(wang.user)
    assert strict.get(READ_ALL).status_code == 405
    assert strict.post(READ_ALL).status_code == 403
    assert Notification.objects.filter(recipient=wang, read_at__isnull=True).count() == 2

    html = _html(strict.get(INBOX))
    assert f'action="{READ_ALL}"' in html
    token = strict.cookies["csrftoken"].value
    assert strict.post(READ_ALL, {"csrfmiddlewaretoken": token}).status_code == 302
    assert Notification.objects.filter(recipient=wang, read_at__isnull=True).count() == 0


# ---------------------------------------------------------------------------------------------
# the header badge


def test_header_badge_counts_unread_and_disappears_at_zero(client, wang):
    items = _send(wang, n=3)
    html = _html(client.get(reverse("home")))
    assert "3 条未读" in html
    assert html.count(reverse("accounts:inbox") + '"') >= 1

    client.get(_detail(items[0]))
    assert "2 条未读" in _html(client.get(reverse("home")))

    client.post(READ_ALL)
    html = _html(client.get(reverse("home")))
    assert "条未读" not in html
    assert "inbox-badge" not in html
    assert "站内信" in html  # the link stays


def test_header_shows_the_count_after_opening_on_the_same_page(client, wang):
    (item,) = _send(wang)
    html = _html(client.get(_detail(item)))
    assert "条未读" not in html  # counted after the view marked it read


def test_header_costs_one_query_and_none_when_logged_out(client, wang, django_assert_num_queries):
    _send(wang, n=2)
    with django_assert_num_queries(0):
        assert selectors.unread_count_for(user=AnonymousUser()) == 0
    with django_assert_num_queries(1):
        assert selectors.unread_count_for(user=wang.user) == 2


def test_no_inbox_link_when_logged_out(client, demo_accounts):
    html = _html(client.get(reverse("home")))
    assert reverse("accounts:inbox") not in html


# ---------------------------------------------------------------------------------------------
# English (strings not translated yet: the pages fall back to Chinese without failing)


def test_inbox_in_english_does_not_fail(client, wang):
    (item,) = _send(wang)
    client.post(reverse("set_language"), {"language": "en", "next": INBOX})
    response = client.get(INBOX)
    assert response.status_code == 200
    assert '<html lang="en">' in _html(response)
    assert client.get(_detail(item)).status_code == 200
    with translation.override("en"):
        title, body = notices.render(item)
    assert title
    assert body


# ---------------------------------------------------------------------------------------------
# admin (read-only; staff look for mail stuck in `sending` or `failed`)


def test_admin_lists_notifications_masked_and_filters_stuck_mail(
    client, demo_accounts, django_assert_max_num_queries
):
    stuck, _other = _send(demo_accounts["王建国"], n=2)
    Notification.objects.filter(pk=stuck.pk).update(email_status=Notification.EmailStatus.SENDING)
    client.force_login(User.objects.get(username="admin"))
    url = reverse("admin:accounts_notification_changelist")
    with django_assert_max_num_queries(10):
        response = client.get(url, {"email_status__exact": "sending"})
    html = _html(response)
    assert response.status_code == 200
    assert "王*国（3201**********123X）" in html
    assert "32010219750312123X" not in html
    assert html.count(reverse("admin:accounts_notification_change", args=[stuck.pk])) == 1
    assert "王*国" in _html(admin_search(client, url, "王建国"))
    assert "王*国" not in _html(admin_search(client, url, "李秀英"))


def test_admin_cannot_add_change_or_delete(client, demo_accounts):
    (item,) = _send(demo_accounts["王建国"])
    client.force_login(User.objects.get(username="admin"))
    assert client.get(reverse("admin:accounts_notification_add")).status_code == 403
    delete = reverse("admin:accounts_notification_delete", args=[item.pk])
    assert client.get(delete).status_code == 403
    response = client.get(reverse("admin:accounts_notification_change", args=[item.pk]))
    assert response.status_code == 200
    assert 'name="_save"' not in _html(response)
