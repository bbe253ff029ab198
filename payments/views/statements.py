"""Statements (issue 4 point 6): 我的个人账户 (a holder's balance and entries, filtered, paginated,
exported as CSV) and 为我支付的记录 (what others' accounts paid for a member, R11, R16).

Both pages are "mine": no object id in the URL, the person is the login's own. A citizen who acts
for a ward (R22: a registered guardian, or a holder of a minor they bind, as
`family.selectors.wards_for` says) may also open the ward's 为我支付的记录 by the ward's public id;
anyone else gets 404. Staff read the same entries in the admin (payments/admin.py), which reuses
the selectors, the filter form and `statement_csv_response` below."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from accounts.csv_export import csv_download, csv_safe, local_stamp
from accounts.staff import page_context
from family import selectors as family_selectors
from family.views.binding import CitizenMixin

from .. import selectors
from ..forms.statements import StatementFilterForm
from ..selectors.statements import StatementEntry

ENTRIES_PER_PAGE = 20
FILTER_INVALID = _("查询条件有误，请按提示修改后重新查询")
CSV_HEADER = (
    _("记账时间"),
    _("类别"),
    _("摘要"),
    _("金额（元）"),
    _("变动后余额（元）"),
    _("支付对象"),
)


def signed_amount(amount) -> str:
    """+100.00 / −50.00 for the page (a real minus sign; colour is never the only signal)."""
    return f"+{amount:.2f}" if amount > 0 else f"−{-amount:.2f}"


def statement_csv_response(*, entries: Iterable[StatementEntry], file_stem: str) -> HttpResponse:
    """The entries as a CSV download (`accounts.csv_export`): a Chinese header row, amounts as
    plain two-decimal strings (-50.00, 100.00)."""
    rows = (
        [
            local_stamp(entry.occurred_at),
            entry.kind_label,
            csv_safe(entry.description),
            f"{entry.amount:.2f}",
            "" if entry.balance_after is None else f"{entry.balance_after:.2f}",
            csv_safe(entry.for_label),
        ]
        for entry in entries
    )
    return csv_download(header=CSV_HEADER, rows=rows, file_stem=file_stem)


def statement_context(*, request, account, base_url: str) -> dict:
    """What the statement template needs for one account: the filter form, a page of entries
    and the CSV link. Shared by the citizen page and the staff statement in the admin."""
    form = StatementFilterForm(request.GET or None)
    context = {"form": form, "statement_url": base_url}
    if form.is_bound and not form.is_valid():
        # An invalid filter lists nothing rather than an unfiltered list that looks filtered.
        context["filter_invalid"] = FILTER_INVALID
        return context
    legs = selectors.statement_legs(account=account, **form.filters)
    page = Paginator(legs, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    context.update(
        {
            "show_results": True,
            **page_context(page),
            "entries": [
                (entry, signed_amount(entry.amount))
                for entry in selectors.entries_with_counterparts(
                    legs=list(page.object_list), account=account
                )
            ],
            "filtered": form.filtered,
        }
    )
    return context


# ---------------------------------------------------------------------------------------------
# 我的个人账户


class StatementView(CitizenMixin, TemplateView):
    template_name = "payments/statement_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        person = self.person
        context["person"] = person
        if person is None or not person.is_employee:
            return context  # no person, or a resident-scheme person: the page explains
        account = selectors.statement_account_for(person=person)
        context["account"] = account
        context["balance"] = account.balance if account is not None else None
        if account is not None:
            context.update(
                statement_context(
                    request=self.request, account=account, base_url=reverse("payments:statement")
                )
            )
        return context


def statement_csv(*, request, account, page_url: str) -> HttpResponse:
    """The filtered entries of one account as CSV (every entry, not one page); an invalid filter
    goes back to the page, which shows what is wrong with it. Shared with the admin."""
    form = StatementFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return redirect(f"{page_url}?{request.GET.urlencode()}")
    legs = selectors.statement_legs(account=account, **form.filters)
    return statement_csv_response(
        entries=selectors.statement_entries_all(legs=legs, account=account),
        file_stem=_g("个人账户明细"),
    )


class StatementCsvView(CitizenMixin, View):
    """The filtered entries of my own account as CSV (every entry, not one page)."""

    def get(self, request, *args, **kwargs):
        person = self.person
        account = None
        if person is not None and person.is_employee:
            account = selectors.statement_account_for(person=person)
        if account is None:
            raise Http404
        return statement_csv(
            request=request, account=account, page_url=reverse("payments:statement")
        )


# ---------------------------------------------------------------------------------------------
# 为我支付的记录


class PaidForMeView(CitizenMixin, TemplateView):
    """/payments/paid-for-me/: mine; /payments/paid-for-me/<ward>/: a ward's (R22), else 404."""

    template_name = "payments/paid_for_me.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["person"] = self.person
        if self.person is None:
            if "public_id" in self.kwargs:
                raise Http404
            return context
        now = timezone.now()
        if "public_id" in self.kwargs:
            subject = selectors.ward_get_for_user(
                user=self.request.user, public_id=self.kwargs["public_id"], at=now
            )
            wards = []
        else:
            subject = self.person
            wards = family_selectors.wards_for(person=self.person, at=now)
        rows = selectors.paid_for_member(member=subject)
        page = Paginator(rows, ENTRIES_PER_PAGE).get_page(self.request.GET.get("page"))
        context.update(
            {
                "subject": subject,
                "is_self": subject.pk == self.person.pk,
                "wards": wards,
                **page_context(page),
                "rows": selectors.paid_for_rows(page.object_list),
            }
        )
        return context
