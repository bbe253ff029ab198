"""个账代缴 pages (R16); their URL patterns are in payments/urls.py.

A holder walks four steps: 1 choose the member, year and pay type (/payments/premium/new/);
2 read and confirm the 代缴承诺书 (/payments/premium/letter/?member=…&year=…&pay_type=…, the
confirmation kept in the session); 3 代缴信息校验 (/payments/premium/check/), every check with its
result, and a confirm button only when all pass, carrying a fresh idempotency key; 4 the receipt
(/payments/premium/<public_id>/) with a PDF payment proof. A double click, a retry or a second tab
ends on the first payment's receipt with a message (the key, then the member-and-year rule).

Receipts are seen only by the holder who paid, a holder whose account paid, the member and the
member's guardian (`selectors.premium_get_for_user`); anyone else gets 404."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from accounts.models import AuditEntry
from accounts.pdf import pdf_from_html
from accounts.staff import page_context
from family.views.binding import CitizenMixin

from .. import selectors, services
from ..forms.premium import PremiumChooseForm, PremiumCommitmentForm, PremiumConfirmForm

DRAFT_SESSION_KEY = "payments.premium.draft"
PER_PAGE = 20

NOT_EMPLOYEE = _("只有职工医保参保人可以用个人账户为家庭成员代缴保费。")
DRAFT_MISSING = _("请先选择缴费信息，并阅读和确认代缴承诺书。")
MEMBER_GONE = _("您与该家庭成员已没有有效的共济授权，请重新选择。")
PAID = _("缴费成功：已为%(member)s缴纳%(year)s年度城乡居民医保保费%(amount)s元。")
REPLAYED = _("这笔缴费已经完成，请勿重复提交。以下是该笔缴费的凭证。")
ALREADY_PAID_SHOWN = _("%(member)s的%(year)s年度保费已经缴纳，请勿重复缴费。以下是该笔缴费的凭证。")
CHECK_FAILED = _("代缴信息校验未通过，没有扣款。请查看下面的校验结果。")


def _query(data: dict) -> str:
    return urlencode({k: data[k] for k in ("member", "year", "pay_type")})


class PremiumMixin(CitizenMixin):
    #: A login without an insured person (staff) goes to the family overview, which explains.
    person_required = True


def _choose_form(person, data=None, initial=None) -> PremiumChooseForm:
    members = selectors.premium_members_for(holder=person)
    premiums = selectors.premium_years_for(region_ids={a.member.region_id for a in members})
    return PremiumChooseForm(data, members=members, premiums=premiums, initial=initial)


# ---------------------------------------------------------------------------------------------
# 我的代缴记录


class PremiumListView(PremiumMixin, TemplateView):
    template_name = "payments/premium_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = selectors.premiums_for_user(user=self.request.user)
        page = Paginator(rows, PER_PAGE).get_page(self.request.GET.get("page"))
        context.update(
            {
                "person": self.person,
                **page_context(page),
                "payments": list(page.object_list),
            }
        )
        return context


# ---------------------------------------------------------------------------------------------
# step 1: choose


class PremiumStartView(PremiumMixin, View):
    template_name = "payments/premium_new.html"

    def get(self, request):
        if not self.person.is_employee:
            return self._render(None)
        initial = {"pay_type": services.premium.PayType.PERSONAL}
        for name in ("member", "year", "pay_type"):  # "返回修改" keeps what was chosen
            if request.GET.get(name):
                initial[name] = request.GET[name]
        form = _choose_form(self.person, initial=initial)
        if "year" not in initial:
            form.initial["year"] = self._current_year(form.premiums)
        return self._render(form)

    def post(self, request):
        if not self.person.is_employee:
            return self._render(None)
        form = _choose_form(self.person, data=request.POST)
        if form.is_valid():
            return redirect(f"{reverse('payments:premium-letter')}?{_query(form.cleaned_data)}")
        return self._render(form)

    @staticmethod
    def _current_year(premiums):
        """The year whose collection period is open today, if any (a convenience only)."""
        today = timezone.localdate()
        for premium in premiums:
            if premium.collection_start <= today <= premium.collection_end:
                return premium.year
        return None

    def _render(self, form):
        return render(
            self.request,
            self.template_name,
            {"person": self.person, "form": form, "not_employee": NOT_EMPLOYEE},
        )


# ---------------------------------------------------------------------------------------------
# step 2: 代缴承诺书


class PremiumLetterView(PremiumMixin, View):
    template_name = "payments/premium_letter.html"

    def _chosen(self):
        form = _choose_form(self.person, data=self.request.GET)
        if not self.person.is_employee or not form.is_valid():
            return None, None, form
        member = form.chosen_member
        premium = selectors.premium_for(member=member, year=form.cleaned_data["year"])
        return member, premium, form

    def get(self, request):
        member, premium, choose = self._chosen()
        if member is None:
            return self._back_to_start(choose)
        back = f"{reverse('payments:premium-new')}?{_query(choose.cleaned_data)}"
        return self._render(choose, member, premium, PremiumCommitmentForm(back_url=back))

    def post(self, request):
        member, premium, choose = self._chosen()
        if member is None:
            return self._back_to_start(choose)
        back = f"{reverse('payments:premium-new')}?{_query(choose.cleaned_data)}"
        form = PremiumCommitmentForm(request.POST, back_url=back)
        if not form.is_valid():
            return self._render(choose, member, premium, form)
        request.session[DRAFT_SESSION_KEY] = {
            "holder": self.person.pk,
            "member": str(member.public_id),
            "year": choose.cleaned_data["year"],
            "pay_type": choose.cleaned_data["pay_type"],
            "commitment": services.premium.COMMITMENT_VERSION,
            "agreed_at": timezone.now().isoformat(),
        }
        return redirect("payments:premium-check")

    def _back_to_start(self, choose):
        """A link with a stale or hand-made query: step 1 shows what is wrong."""
        if not self.person.is_employee:
            return redirect("payments:premium-new")
        return render(
            self.request,
            PremiumStartView.template_name,
            {"person": self.person, "form": choose, "not_employee": NOT_EMPLOYEE},
        )

    def _render(self, choose, member, premium, form):
        pay_type = choose.cleaned_data["pay_type"]
        text = services.premium_commitment_text(
            holder=self.person, member=member, premium=premium, pay_type=pay_type
        )
        return render(
            self.request,
            self.template_name,
            {
                "member": member,
                "premium": premium,
                "pay_type_label": services.premium.PayType(pay_type).label,
                "letter_text": text,
                "form": form,
            },
        )


# ---------------------------------------------------------------------------------------------
# step 3: 代缴信息校验 and confirm


class PremiumCheckView(PremiumMixin, View):
    template_name = "payments/premium_check.html"

    def _draft(self):
        draft = self.request.session.get(DRAFT_SESSION_KEY)
        if not draft or draft.get("holder") != self.person.pk:
            return None
        return draft

    def _member(self, public_id):
        try:
            return selectors.premium_member_for_holder(holder=self.person, public_id=public_id)
        except Http404:
            return None

    def get(self, request):
        draft = self._draft()
        if draft is None:
            messages.info(request, DRAFT_MISSING)
            return redirect("payments:premium-new")
        member = self._member(draft["member"])
        if member is None:
            request.session.pop(DRAFT_SESSION_KEY, None)
            messages.warning(request, MEMBER_GONE)
            return redirect("payments:premium-new")
        return self._render(draft, member, errors=None)

    def post(self, request):
        form = PremiumConfirmForm(request.POST)
        if not form.is_valid():
            messages.info(request, DRAFT_MISSING)
            return redirect("payments:premium-new")
        data = form.cleaned_data
        key = str(data["key"])
        # A double click or a retry of a confirm that went through: its receipt.
        done = selectors.premium_by_key_for_user(user=request.user, idempotency_key=key)
        if done is not None:
            messages.info(request, REPLAYED)
            return redirect("payments:premium-detail", public_id=done.public_id)
        draft = self._draft()
        if draft is None or (draft["member"], draft["year"], draft["pay_type"]) != (
            str(data["member"]),
            data["year"],
            data["pay_type"],
        ):
            # No commitment confirmed for this in the session: a second tab of a payment made
            # meanwhile (its receipt), or something never confirmed (step 1 again).
            member = self._member(data["member"])
            shown = member and self._visible_payment(member=member, year=data["year"])
            if shown:
                messages.info(
                    request, ALREADY_PAID_SHOWN % {"member": member.name, "year": data["year"]}
                )
                return redirect("payments:premium-detail", public_id=shown.public_id)
            messages.info(request, DRAFT_MISSING)
            return redirect("payments:premium-new")
        member = self._member(draft["member"])
        if member is None:
            messages.warning(request, MEMBER_GONE)
            return redirect("payments:premium-new")
        try:
            payment, created = services.premium_pay(
                holder=self.person,
                member=member,
                year=draft["year"],
                pay_type=draft["pay_type"],
                idempotency_key=key,
                commitment_agreed=draft.get("commitment") == services.premium.COMMITMENT_VERSION,
                actor=request.user,
                channel=AuditEntry.Channel.ONLINE,
            )
        except ValidationError as exc:
            if any(error.code == "already_paid" for error in exc.error_list):
                shown = self._visible_payment(member=member, year=draft["year"])
                if shown is not None:
                    request.session.pop(DRAFT_SESSION_KEY, None)
                    messages.info(
                        request,
                        ALREADY_PAID_SHOWN % {"member": member.name, "year": draft["year"]},
                    )
                    return redirect("payments:premium-detail", public_id=shown.public_id)
            return self._render(draft, member, errors=exc.messages)
        request.session.pop(DRAFT_SESSION_KEY, None)
        if created:
            messages.success(
                request,
                PAID
                % {"member": member.name, "year": payment.year, "amount": f"{payment.amount:.2f}"},
            )
        else:
            messages.info(request, REPLAYED)
        return redirect("payments:premium-detail", public_id=payment.public_id)

    def _visible_payment(self, *, member, year):
        existing = selectors.premium_payment_of(member=member, year=year)
        if existing is None:
            return None
        try:
            return selectors.premium_get_for_user(
                user=self.request.user, public_id=existing.public_id
            )
        except Http404:
            return None

    def _render(self, draft, member, *, errors):
        check = selectors.premium_check(
            holder=self.person,
            member=member,
            year=draft["year"],
            pay_type=draft["pay_type"],
            at=timezone.now(),
        )
        confirm = None
        if check.passed:
            confirm = PremiumConfirmForm(
                initial={
                    "key": uuid.uuid4(),
                    "member": member.public_id,
                    "year": draft["year"],
                    "pay_type": draft["pay_type"],
                }
            )
        back = {**draft}
        return render(
            self.request,
            self.template_name,
            {
                "check": check,
                "member": member,
                "premium": check.premium,
                "pay_type_label": check.pay_type_label,
                "confirm": confirm,
                "errors": errors,
                "check_failed": CHECK_FAILED,
                "back_url": f"{reverse('payments:premium-new')}?{_query(back)}",
            },
            status=200,
        )


# ---------------------------------------------------------------------------------------------
# step 4: 缴费凭证 and 缴费证明 (PDF)


class PremiumDetailView(PremiumMixin, TemplateView):
    template_name = "payments/premium_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        payment = selectors.premium_get_for_user(
            user=self.request.user, public_id=self.kwargs["public_id"]
        )
        context["payment"] = payment
        context["lines"] = list(payment.lines.all())
        return context


class PremiumProofView(PremiumMixin, View):
    """缴费证明 as a PDF download (WeasyPrint, local fonts only)."""

    def get(self, request, public_id):
        payment = selectors.premium_get_for_user(user=request.user, public_id=public_id)
        html = render_to_string(
            "payments/premium_proof_pdf.html",
            {
                "payment": payment,
                "lines": list(payment.lines.all()),
                "printed_at": timezone.localtime(),
            },
            request=request,
        )
        response = HttpResponse(pdf_from_html(html), content_type="application/pdf")
        name = _g("缴费证明-%(year)s-%(number)s.pdf") % {
            "year": payment.year,
            "number": str(payment.public_id)[:8],
        }
        response["Content-Disposition"] = content_disposition_header(True, name)
        return response
