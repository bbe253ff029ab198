"""Staff pages of the payments app (issue 6): the person page, which spans accounts, family and
payments, and 窗口个账代缴 (premium on behalf at the counter, R16, R18).

Thin views: `selectors.staff.person_page_for_staff` reads the person page (a constant number of
queries), `selectors.premium_check` is the same 代缴信息校验 the citizen pages run, and
`services.premium_pay` pays with channel counter. Every object is scoped to the staff user's
regions (`accounts.selectors.person_get_for_staff`): another region's person is a 404."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from accounts.models import AuditEntry
from accounts.selectors import person_get_for_staff
from accounts.staff import StaffRequiredMixin
from family import selectors as family_selectors

from .. import selectors, services
from ..forms.counter import PremiumCounterChooseForm, PremiumCounterConfirmForm
from ..selectors.staff import person_page_for_staff

COUNTER = AuditEntry.Channel.COUNTER

PREMIUM_PAID = _("窗口代缴成功：已为%(member)s缴纳%(year)s年度城乡居民医保保费%(amount)s元。")
PREMIUM_REPLAYED = _("这笔代缴已经完成，没有重复扣款。")
PREMIUM_CHECK_FAILED = _("代缴信息校验未通过，没有扣款。请查看下面的校验结果。")
PREMIUM_CONFIRM_INVALID = _("请按提示确认后再提交。")
NO_HOLDERS = _("目前没有主账户人为该参保人授权，不能办理个账代缴。")


class PersonDetailView(StaffRequiredMixin, TemplateView):
    """The person page (issue 6), served at /staff/persons/<public_id>/ by the wallet app's
    subclass, which adds the wallet panel (`wallet.staff_views.PersonDetailView`)."""

    template_name = "staff/person_detail.html"
    permission_required = ("accounts.view_insuredperson",)

    def get_context_data(self, **kwargs):
        page = person_page_for_staff(user=self.request.user, public_id=self.kwargs["public_id"])
        return super().get_context_data(page=page, staff_section="persons", **kwargs)


class PremiumCounterView(StaffRequiredMixin, View):
    """/staff/persons/<member public_id>/premium/: GET chooses and runs the check (with a fresh
    idempotency key in the confirm form when every check passes); POST pays."""

    template_name = "staff/premium_counter.html"
    permission_required = ("accounts.view_insuredperson", "payments.add_premiumpayment")

    def _load(self):
        self.member = person_get_for_staff(
            user=self.request.user, public_id=self.kwargs["public_id"]
        )
        self.authorizations = family_selectors.deduction_order_for(member=self.member)
        self.premiums = selectors.premium_years_for(region_ids={self.member.region_id})

    def _choose(self, data=None, initial=None) -> PremiumCounterChooseForm:
        return PremiumCounterChooseForm(
            data,
            authorizations=self.authorizations,
            premiums=self.premiums,
            initial=initial,
        )

    def _chosen(self, holder, data) -> PremiumCounterChooseForm:
        """The choose form as it was filled in for the check page being shown again."""
        choose = self._choose(
            {"holder": str(holder.public_id), "year": data["year"], "pay_type": data["pay_type"]}
        )
        choose.is_valid()
        return choose

    def get(self, request, *args, **kwargs):
        self._load()
        chosen = any(name in request.GET for name in ("holder", "year", "pay_type"))
        choose = self._choose(request.GET if chosen else None)
        if not choose.is_bound or not choose.is_valid():
            return self._render(choose)
        holder = choose.chosen_holder
        data = choose.cleaned_data
        return self._render(
            choose, holder=holder, year=data["year"], pay_type=data["pay_type"], key=uuid.uuid4()
        )

    def post(self, request, *args, **kwargs):
        self._load()
        confirm = PremiumCounterConfirmForm(request.POST)
        holders = {a.holder.public_id: a.holder for a in self.authorizations}
        if not confirm.is_valid() or confirm.cleaned_data["holder"] not in holders:
            data = getattr(confirm, "cleaned_data", {})
            holder = holders.get(data.get("holder"))
            if holder is None or "year" not in data or "pay_type" not in data:
                messages.error(request, PREMIUM_CONFIRM_INVALID)
                return self._render(self._choose())
            return self._render(
                self._chosen(holder, data),
                holder=holder,
                year=data["year"],
                pay_type=data["pay_type"],
                confirm=confirm,
            )
        data = confirm.cleaned_data
        holder = holders[data["holder"]]
        try:
            payment, created = services.premium_pay(
                holder=holder,
                member=self.member,
                year=data["year"],
                pay_type=data["pay_type"],
                idempotency_key=str(data["key"]),
                commitment_agreed=data["commitment"],
                actor=request.user,
                channel=COUNTER,
            )
        except ValidationError as exc:
            return self._render(
                self._chosen(holder, data),
                holder=holder,
                year=data["year"],
                pay_type=data["pay_type"],
                key=uuid.uuid4(),
                errors=exc.messages,
            )
        if created:
            messages.success(
                request,
                PREMIUM_PAID
                % {
                    "member": self.member.name,
                    "year": payment.year,
                    "amount": f"{payment.amount:.2f}",
                },
            )
        else:
            messages.info(request, PREMIUM_REPLAYED)
        return redirect("staff:person", public_id=self.member.public_id)

    def _render(
        self, choose, *, holder=None, year=None, pay_type=None, key=None, confirm=None, errors=None
    ):
        context = {
            "staff_section": "persons",
            "member": self.member,
            "choose": choose,
            "no_holders": NO_HOLDERS,
            "errors": errors,
            "check_failed": PREMIUM_CHECK_FAILED,
        }
        if holder is not None:
            check = selectors.premium_check(
                holder=holder, member=self.member, year=year, pay_type=pay_type, at=timezone.now()
            )
            context.update(check=check, premium=check.premium, pay_type_label=check.pay_type_label)
            if check.premium is not None:
                context["letter_text"] = services.premium_commitment_text(
                    holder=holder, member=self.member, premium=check.premium, pay_type=pay_type
                )
            if check.passed:
                context["confirm"] = confirm or PremiumCounterConfirmForm(
                    initial={
                        "key": key or uuid.uuid4(),
                        "holder": holder.public_id,
                        "year": year,
                        "pay_type": pay_type,
                    }
                )
        return render(self.request, self.template_name, context)
