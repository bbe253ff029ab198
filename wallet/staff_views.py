"""The wallet at the counter (R18, R20, R23): the wallet panel of the staff person page, the
person's transfers, and opening (确认使用钱包) or closing a wallet for the person.

The person page spans accounts, family, payments and now the wallet, so its view lives here, in
the highest app it reads: payments' view (its selector `person_page_for_staff`) with the wallet
panel added. Every person comes from `accounts.selectors.person_get_for_staff`: another region's
person is a 404, as on every staff page. The services do the work with channel counter and the
clerk as actor, so every change is audited (R20) with the documents the clerk saw; a refusal is
shown on the page, in words for the clerk, and changes nothing."""

from __future__ import annotations

from functools import cached_property

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView, TemplateView

from accounts.models import AuditEntry, InsuredPerson
from accounts.selectors import person_get_for_staff
from accounts.staff import StaffRequiredMixin, page_context
from family.forms import place_error
from payments.views.staff import PersonDetailView as PaymentsPersonDetailView

from . import selectors, services
from .forms import COUNTER_FIELD_ERRORS, CounterWalletCloseForm, CounterWalletOpenForm
from .selectors.staff import transfer_rows, wallet_panel
from .selectors.transfers import transfers_for

COUNTER = AuditEntry.Channel.COUNTER
TRANSFERS_PAGE_SIZE = 20

OPENED_AT_COUNTER = _("已为%(name)s开通医保钱包。")
CLOSED_AT_COUNTER = _("已为%(name)s关闭医保钱包。")
# The services' refusals speak to the citizen ("您…"); the clerk reads them about the person.
COUNTER_REFUSALS = {
    "wallet_not_offered": _("该参保人的参保地暂未开通医保钱包，不能办理。"),
    "wallet_person_not_normal": _("该参保人不是正常参保状态，不能使用医保钱包。"),
    "wallet_already_open": _("该参保人已开通医保钱包，无需重复开通。"),
    "wallet_not_open": _("该参保人没有已开通的医保钱包，无需关闭。"),
    "wallet_not_empty": _("该参保人的医保钱包还有余额，余额为零时才能关闭。"),
    "wallet_transfer_pending": _(
        "有一笔转入该参保人钱包的转账等待其接收或拒收，办结后才能关闭钱包。"
    ),
}
WALLET_VIEW = ("accounts.view_insuredperson", "wallet.view_wallet")
WALLET_COUNTER = (*WALLET_VIEW, services.COUNTER_PERMISSION)


def counter_refusal(exc: ValidationError | None) -> ValidationError | None:
    """A service refusal in the clerk's words (same code); others as the service said them."""
    if exc is None or getattr(exc, "code", None) not in COUNTER_REFUSALS:
        return exc
    return ValidationError(COUNTER_REFUSALS[exc.code], code=exc.code)


class PersonDetailView(PaymentsPersonDetailView):
    """/staff/persons/<public_id>/: the person page with its wallet panel, for staff who may
    see wallets (three more queries: `wallet.selectors.staff.wallet_panel`)."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.request.user.has_perm("wallet.view_wallet"):
            panel = wallet_panel(person=context["page"].person)
            context.update(wallet=panel, wallet_refusal=counter_refusal(panel.open_refusal))
        return context


class CounterWalletMixin(StaffRequiredMixin):
    """`self.person`: the person of the URL, in the clerk's regions (else 404)."""

    @cached_property
    def person(self) -> InsuredPerson:
        return person_get_for_staff(user=self.request.user, public_id=self.kwargs["public_id"])

    def get_context_data(self, **kwargs):
        return super().get_context_data(staff_section="persons", person=self.person, **kwargs)


class WalletTransfersView(CounterWalletMixin, TemplateView):
    """/staff/persons/<public_id>/wallet/transfers/: every transfer the person sent or
    received, newest first, a page at a time."""

    template_name = "staff/counter_wallet_transfers.html"
    permission_required = (*WALLET_VIEW, "wallet.view_transfer")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        paginator = Paginator(transfers_for(person=self.person), TRANSFERS_PAGE_SIZE)
        page = paginator.get_page(self.request.GET.get("page"))
        context.update(
            rows=transfer_rows(person=self.person, transfers=page.object_list),
            **page_context(page),
        )
        return context


class CounterWalletFormMixin(CounterWalletMixin):
    """A confirmation page whose form calls one service; the refusal the page would meet is
    shown instead of the form, and a refusal on submit is shown next to its field or above."""

    permission_required = WALLET_COUNTER
    done_message = None

    @cached_property
    def page(self) -> selectors.WalletPage:
        return selectors.wallet_page(person=self.person)

    def shown_refusal(self) -> ValidationError | None:
        raise NotImplementedError

    def call(self, form) -> None:
        raise NotImplementedError

    def get_form_kwargs(self):
        back = reverse("staff:person", args=[self.person.public_id])
        return {**super().get_form_kwargs(), "back_url": back}

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            page=self.page, refusal=counter_refusal(self.shown_refusal()), **kwargs
        )

    def form_valid(self, form):
        try:
            self.call(form)
        except ValidationError as exc:
            shown = self.shown_refusal()
            if shown is None or shown.code != getattr(exc, "code", None):
                place_error(form, counter_refusal(exc), COUNTER_FIELD_ERRORS)
            return self.form_invalid(form)
        messages.success(self.request, str(self.done_message) % {"name": self.person.name})
        return redirect("staff:person", public_id=self.person.public_id)


class CounterWalletOpenView(CounterWalletFormMixin, FormView):
    """/staff/persons/<public_id>/wallet/open/: 确认使用钱包 at the counter."""

    template_name = "staff/counter_wallet_open.html"
    form_class = CounterWalletOpenForm
    done_message = OPENED_AT_COUNTER

    def get_form_kwargs(self):
        return {
            **super().get_form_kwargs(),
            "place": self.page.insured_place,
            "phone": self.page.masked_phone,
        }

    def shown_refusal(self) -> ValidationError | None:
        return self.page.open_refusal

    def call(self, form) -> None:
        data = form.cleaned_data
        services.wallet_open(
            person=self.person,
            actor=self.request.user,
            channel=COUNTER,
            confirm_place=data["confirm_place"],
            confirm_phone=data["confirm_phone"],
            documents_seen=data["documents_seen"],
        )


class CounterWalletCloseView(CounterWalletFormMixin, FormView):
    """/staff/persons/<public_id>/wallet/close/: closing an empty wallet at the counter."""

    template_name = "staff/counter_wallet_close.html"
    form_class = CounterWalletCloseForm
    done_message = CLOSED_AT_COUNTER

    def shown_refusal(self) -> ValidationError | None:
        return self.page.close_refusal

    def call(self, form) -> None:
        services.wallet_close(
            person=self.person,
            actor=self.request.user,
            channel=COUNTER,
            documents_seen=form.cleaned_data["documents_seen"],
        )
