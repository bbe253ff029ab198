"""Staff pages of clearing (R27): positions and batches of the regions the staff member serves,
one batch with its lines, its CSV for an accountant, and the confirmation of one side.

Thin views: reads through `selectors.clearing` (scoped to the staff member's regions: another
region's batch answers 404), the confirmation through `services.clearing_confirm`, which checks
the side again and refuses in plain words."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from accounts.csv_export import csv_download, csv_safe, local_stamp
from accounts.selectors import staff_region_ids
from accounts.staff import StaffRequiredMixin, page_context

from .. import services
from ..selectors import clearing as selectors

VIEW = "wallet.view_clearingbatch"
CONFIRM = "wallet.confirm_clearingbatch"
CONFIRMED = _("已确认本方清算批次")
CSV_HEADER = (
    _("发生时间"),
    _("类别"),
    _("业务编号"),
    _("收款方"),
    _("参保人"),
    _("资金所属统筹区"),
    _("应收方统筹区"),
    _("金额（元）"),
)


class ClearingListView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW
    template_name = "wallet/staff/clearing_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(staff_section="clearing", **kwargs)
        user = self.request.user
        page = Paginator(selectors.batches_for_staff(user=user), 20).get_page(
            self.request.GET.get("page")
        )
        context.update(
            positions=selectors.positions_for_staff(user=user), batches=page, **page_context(page)
        )
        return context


class BatchMixin(StaffRequiredMixin):
    permission_required = VIEW

    def batch(self):
        batch = selectors.batch_for_staff(
            user=self.request.user, public_id=self.kwargs["public_id"]
        )
        if batch is None:
            raise Http404
        return batch


def _sides(user, batch) -> list[str]:
    """The sides this staff member may still confirm."""
    regions = staff_region_ids(user=user)
    sides = []
    for side, region_id, done in (
        ("payer", batch.payer_region_id, batch.payer_confirmed_at),
        ("payee", batch.payee_region_id, batch.payee_confirmed_at),
    ):
        if done is None and (regions is None or region_id in regions):
            sides.append(side)
    return sides


class BatchDetailView(BatchMixin, TemplateView):
    template_name = "wallet/staff/clearing_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(staff_section="clearing", **kwargs)
        batch = self.batch()
        page = Paginator(selectors.batch_lines(batch), 50).get_page(self.request.GET.get("page"))
        user = self.request.user
        context.update(
            batch=batch,
            lines=page,
            rows=[(line, *selectors.line_facts(line)) for line in page],
            sides=_sides(user, batch) if user.has_perm(CONFIRM) else [],
            **page_context(page),
        )
        return context


class BatchConfirmView(BatchMixin, View):
    permission_required = (VIEW, CONFIRM)

    def post(self, request, public_id):
        batch = self.batch()
        try:
            services.clearing_confirm(
                batch=batch, actor=request.user, side=request.POST.get("side", "")
            )
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            messages.success(request, CONFIRMED)
        return redirect("staff:clearing-batch", public_id=batch.public_id)


class BatchCsvView(BatchMixin, View):
    def get(self, request, public_id):
        batch = self.batch()
        lines = []
        for line in selectors.batch_lines(batch).iterator(chunk_size=500):
            kind, reference, payee, person = selectors.line_facts(line)
            lines.append(
                [
                    local_stamp(line.occurred_at),
                    kind,
                    reference,
                    csv_safe(payee),
                    csv_safe(person),
                    csv_safe(f"{line.owing_region.province_name}{line.owing_region.name}"),
                    csv_safe(f"{line.owed_region.province_name}{line.owed_region.name}"),
                    f"{line.amount:.2f}",
                ]
            )
        net = [
            str(_("轧差")),
            "",
            str(batch.public_id),
            "",
            "",
            csv_safe(f"{batch.payer_region.province_name}{batch.payer_region.name}"),
            csv_safe(f"{batch.payee_region.province_name}{batch.payee_region.name}"),
            f"{batch.amount:.2f}",
        ]
        stem = f"clearing-{batch.business_date:%Y%m%d}-{batch.public_id.hex[:8]}"
        return csv_download(header=CSV_HEADER, rows=[*lines, [], net], file_stem=stem)
