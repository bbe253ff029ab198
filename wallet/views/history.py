"""钱包明细 (R23): the entries of the person's own wallet (money in from a transfer, spent on
care, back from a refund), each with the region whose fund owes it; filtered, paginated, and as
a CSV of the filtered rows (`?format=csv` or /wallet/history.csv).

No id in the URL: the person's own wallet only. The CSV holds no identity number (the entries'
descriptions name people by their masked names only)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views import View

from accounts.csv_export import csv_download, csv_safe, local_stamp
from accounts.staff import page_context

from .. import selectors
from ..forms import EntryFilterForm
from ..selectors.transfers import region_place
from .transfers import FILTER_INVALID, PersonMixin

ENTRIES_PER_PAGE = 20
CSV_HEADER = (
    _("发生时间"),
    _("类别"),
    _("摘要"),
    _("金额（元）"),
    _("变动后余额（元）"),
    _("资金所属地"),
)


def signed(amount) -> str:
    """+100.00 / −50.00 for the page (a real minus sign; colour is never the only signal)."""
    return f"+{amount:.2f}" if amount > 0 else f"−{-amount:.2f}"


def history_csv(entries) -> HttpResponse:
    """The entries as a CSV download (`accounts.csv_export`), amounts as plain two-decimal
    strings (-50.00, 100.00)."""
    rows = (
        [
            local_stamp(entry.occurred_at),
            entry.get_kind_display(),
            csv_safe(entry.description),
            f"{entry.amount:.2f}",
            f"{entry.balance_after:.2f}",
            region_place(entry.owing_region),
        ]
        for entry in entries
    )
    return csv_download(header=CSV_HEADER, rows=rows, file_stem=_g("医保钱包明细"))


class WalletHistoryView(PersonMixin, View):
    csv = False

    def get(self, request):
        form = EntryFilterForm(request.GET or None)
        as_csv = self.csv or request.GET.get("format") == "csv"
        context = {"person": self.person, "form": form}
        if form.is_bound and not form.is_valid():
            if as_csv:  # the page says what is wrong with the filter
                query = request.GET.copy()
                query.pop("format", None)
                return redirect(f"{reverse('wallet:history')}?{query.urlencode()}")
            context["filter_invalid"] = FILTER_INVALID
            return render(request, "wallet/history.html", context)
        entries = selectors.entries_for(person=self.person, **form.filters)
        if as_csv:
            return history_csv(entries.iterator(chunk_size=1000))
        page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
        context.update(
            show_results=True,
            filtered=form.filtered,
            **page_context(page),
            entries=[(entry, signed(entry.amount)) for entry in page.object_list],
        )
        return render(request, "wallet/history.html", context)
