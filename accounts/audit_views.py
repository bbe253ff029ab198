"""The audit-trail browser and its CSV export (issue 6 point 3, R20).

Both read through `selectors.audit_entries_search`, which keeps a staff user to the entries of
persons in their regions (entries without a person: superusers only). The export needs
`export_auditentry` (supervisors, administrators; not clerks) and is audited itself."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Max
from django.http import QueryDict, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from . import selectors, services
from .audit_trail import audit_rows, csv_lines
from .forms import AUDIT_FILTERS_INVALID, AuditFilterForm
from .staff import StaffRequiredMixin, page_context, search_params, search_redirect

# Filters sent in the URL itself are refused (issue 13 point 15): an identity number there
# reaches the access logs of every proxy on the way and the counter PC's history.
FILTERS_IN_URL = _("请在页面的筛选表单中填写查询条件，查询条件不能直接写在网址中")
FILTER_FIELDS = frozenset(AuditFilterForm.base_fields)


def _filters_in_url(request) -> bool:
    return any(key in FILTER_FIELDS for key in request.GET)


def _filters_data(request):
    """The filters of `?s=<token>` only (the form is POSTed, so that an identity number never
    sits in a URL: accounts.staff.search_stash)."""
    params = search_params(request)
    return params if params is not None else QueryDict()


def _filter_form(request, data=None) -> AuditFilterForm:
    return AuditFilterForm(
        _filters_data(request) if data is None else data,
        actions=selectors.audit_actions_for_staff(user=request.user),
        reset_url=reverse("staff:audit"),
    )


class AuditListView(StaffRequiredMixin, TemplateView):
    """GET with the filters; 50 entries a page, newest first. Invalid filters show the form's
    messages and no entries (rather than every entry, unfiltered)."""

    permission_required = "accounts.view_auditentry"
    template_name = "staff/audit_list.html"

    def post(self, request, *args, **kwargs):
        form = _filter_form(request, request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        return search_redirect(request, request.POST, "staff:audit")

    def get_context_data(self, form=None, **kwargs):
        context = super().get_context_data(staff_section="audit", **kwargs)
        form = form or _filter_form(self.request)
        context.update(form=form, rows=None, export_query="")
        if _filters_in_url(self.request):
            context["invalid"] = FILTERS_IN_URL
            return context
        if not form.is_valid():
            context["invalid"] = AUDIT_FILTERS_INVALID
            return context
        entries = selectors.audit_entries_search(user=self.request.user, filters=form.filters())
        page = Paginator(entries, selectors.AUDIT_PAGE_SIZE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)  # `s` (or the plain filters) go on to the export link
        context.update(
            rows=audit_rows(page.object_list),
            export_query=query.urlencode(),
            can_export=self.request.user.has_perm("accounts.export_auditentry"),
            **page_context(page),
        )
        return context


class _Echo:
    """A file-like object whose write returns the line: csv.writer without a buffer."""

    def write(self, value: str) -> str:
        return value


class AuditExportView(StaffRequiredMixin, View):
    """The browser's rows under the same filters as a streamed CSV (UTF-8 with BOM). The rows
    are those that existed when the export was counted and audited: entries written while it
    streams (the export's own entry among them) are left out."""

    permission_required = ("accounts.view_auditentry", "accounts.export_auditentry")

    def get(self, request, *args, **kwargs):
        if _filters_in_url(request):
            messages.error(request, FILTERS_IN_URL)
            return redirect("staff:audit")
        form = _filter_form(request)
        if not form.is_valid():
            messages.error(request, AUDIT_FILTERS_INVALID)
            return redirect(f"{reverse('staff:audit')}?{request.GET.urlencode()}")  # no number
        filters = form.filters()
        entries = selectors.audit_entries_search(user=request.user, filters=filters)
        counted = entries.order_by().aggregate(rows=Count("id"), last=Max("id"))
        services.audit_export_record(actor=request.user, filters=filters, rows=counted["rows"])
        entries = entries.filter(id__lte=counted["last"] or 0)
        writer = csv.writer(_Echo())
        lines = csv_lines(entries.iterator(chunk_size=1000), writer.writerow)
        name = f"audit-{timezone.localdate():%Y%m%d}.csv"
        return StreamingHttpResponse(
            lines,
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
