"""钱包明细 (R23): the entries of the person's own wallet (money in from a transfer, spent on
care, back from a refund), each with the region whose fund owes it; filtered, paginated, and as
a CSV of the filtered rows (`?format=csv` or /wallet/history.csv).

No id in the URL: the person's own wallet only. The CSV holds no identity number (the entries'
descriptions name people by their masked names only)."""

from __future__ import annotations

import csv
import io

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views import View

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
# Spreadsheet programs run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def signed(amount) -> str:
    """+100.00 / −50.00 for the page (a real minus sign; colour is never the only signal)."""
    return f"+{amount:.2f}" if amount > 0 else f"−{-amount:.2f}"


def _text_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def history_csv(entries) -> HttpResponse:
    """UTF-8 with a BOM (so that Excel opens the Chinese), a header row, amounts as plain
    two-decimal strings (-50.00, 100.00)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([str(title) for title in CSV_HEADER])
    for entry in entries:
        writer.writerow(
            [
                timezone.localtime(entry.occurred_at).strftime("%Y-%m-%d %H:%M:%S"),
                entry.get_kind_display(),
                _text_cell(entry.description),
                f"{entry.amount:.2f}",
                f"{entry.balance_after:.2f}",
                region_place(entry.owing_region),
            ]
        )
    response = HttpResponse(buffer.getvalue().encode("utf-8"), content_type="text/csv")
    stamp = timezone.localdate().strftime("%Y%m%d")
    name = f"{_g('医保钱包明细')}-{stamp}.csv"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


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
