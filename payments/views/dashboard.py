"""The staff dashboard (issue 6 point 4): relationships, authorizations, bindings per day,
mutual-aid spending per month and per category, premiums on behalf per year, each as a
server-rendered SVG bar chart with a table of the same numbers beside it.

Everything in the user's regions (`payments.selectors.dashboard`), optionally one of them. Every
staff role may look (`accounts.view_regionpolicy`); the page changes nothing."""

from __future__ import annotations

from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from accounts.staff import StaffRequiredMixin

from ..charts import bar_chart, column_chart, money
from ..forms.dashboard import DashboardFilterForm
from ..selectors.dashboard import dashboard_for_staff, dashboard_regions_for_staff

REGION_NOT_YOURS = _("请从列表中选择您负责的统筹区")
UNIT_YUAN = _("元")
UNIT_ITEMS = _("项")
UNIT_PAYMENTS = _("笔")


def whole_yuan(value) -> str:
    """An axis top: 2000 -> "2,000"."""
    return f"{int(value):,}"


def _money_row(label: str, m) -> dict:
    return {
        "label": label,
        "paid": money(m.paid),
        "refunded": money(m.refunded),
        "net": money(m.net),
    }


def dashboard_charts(board) -> dict:
    """Charts and table rows of a `Dashboard`, in the page's order."""
    yuan, items = _g(UNIT_YUAN), _g(UNIT_ITEMS)
    days = [(f"{d:%m-%d}", n) for d, n in board.bindings_per_day]
    months = [(f"{m:%Y-%m}", m_) for m, m_ in board.spending_per_month]
    categories = [(label, m) for _c, label, m in board.spending_per_category]
    return {
        "status_chart": bar_chart(
            title=_g("有效的共济授权（按状态）"),
            points=[(label, n) for _s, label, n in board.authorizations],
            unit=items,
        ),
        "status_rows": [{"label": label, "value": n} for _s, label, n in board.authorizations],
        "days_chart": column_chart(
            title=_g("近%(days)s天每日新增绑定") % {"days": len(days)},
            points=days,
            unit=items,
            label_every=5,
        ),
        "days_rows": [{"label": f"{d:%Y-%m-%d}", "value": n} for d, n in board.bindings_per_day],
        "months_chart": column_chart(
            title=_g("近%(months)s个月家庭共济支出（净额）") % {"months": len(months)},
            points=[(label, m.net) for label, m in months],
            fmt=money,
            unit=yuan,
            label_every=3,
            axis_fmt=whole_yuan,
        ),
        "months_rows": [_money_row(label, m) for label, m in months],
        "categories_chart": bar_chart(
            title=_g("近12个月家庭共济支出（按类别，净额）"),
            points=[(label, m.net) for label, m in categories],
            fmt=money,
            unit=yuan,
        ),
        "categories_rows": [_money_row(label, m) for label, m in categories],
        "spending_total": _money_row(_g("合计"), board.spending_total),
        "premiums_chart": column_chart(
            title=_g("个账代缴居民医保费（按缴费年度）"),
            points=[(str(p.year), p.amount) for p in board.premiums_per_year],
            fmt=money,
            unit=yuan,
            axis_fmt=whole_yuan,
        ),
        "premiums_rows": [
            {"label": p.year, "payments": p.payments, "amount": money(p.amount)}
            for p in board.premiums_per_year
        ],
        "premiums_total": money(board.premiums_total),
    }


class DashboardView(StaffRequiredMixin, TemplateView):
    permission_required = "accounts.view_regionpolicy"
    template_name = "staff/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(staff_section="dashboard", **kwargs)
        user = self.request.user
        form = DashboardFilterForm(self.request.GET, regions=dashboard_regions_for_staff(user=user))
        context.update(form=form, board=None)
        if not form.is_valid():
            context["invalid"] = REGION_NOT_YOURS
            return context
        region = form.selected_region()
        board = dashboard_for_staff(user=user, region=region)
        context.update(
            board=board,
            region=region,
            regions=list(form.regions.values()),
            **dashboard_charts(board),
        )
        return context
