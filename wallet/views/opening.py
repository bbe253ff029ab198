"""The citizen's wallet pages (R23): overview, open (确认使用钱包) and close.

Thin views: the form reads the confirmations, `services` change state and own every rule,
`selectors.wallet_page` reads the person's own wallet (there is no id in these URLs, so nobody
reaches another person's wallet). A refusal is shown in the page and changes nothing. A login
without an insured person (staff) sees the overview's explanation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView, TemplateView

from accounts.models import AuditEntry
from accounts.selectors import person_for_user
from family.forms import place_error

from .. import selectors, services
from ..forms import FIELD_ERRORS, WalletCloseForm, WalletOpenForm
from ..selectors import transfers as transfer_selectors

OPENED = _("您已开通医保钱包")
CLOSED = _("您的医保钱包已关闭")


class WalletMixin(LoginRequiredMixin):
    """`self.person` (the login's insured person, with its region) and `self.page` (its wallet
    page); a form page without an insured person goes to the overview, which explains."""

    person = None
    page = None
    person_required = True

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.person = person_for_user(user=request.user)
            if self.person is None:
                if self.person_required:
                    return redirect("wallet:overview")
            else:
                self.page = selectors.wallet_page(person=self.person)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(person=self.person, page=self.page, **kwargs)


class WalletOverviewView(WalletMixin, TemplateView):
    """The balance and who owes it (R23), the transfers waiting for this person's answer (R25)
    and whether they may send one (R24), with the links to the other wallet pages."""

    template_name = "wallet/overview.html"
    person_required = False

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        person = self.person
        if person is not None:
            context.update(
                holdings=[
                    (holding, transfer_selectors.region_place(holding.region))
                    for holding in selectors.holdings_of(wallet=self.page.wallet)
                ],
                pending=transfer_selectors.pending_received(person=person),
                send=transfer_selectors.send_state(sender=person, at=timezone.now()),
            )
        return context


class WalletFormMixin(WalletMixin):
    """A page whose form calls one service; a ValidationError is shown in the page."""

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "back_url": reverse("wallet:overview")}

    def call(self, form) -> None:
        raise NotImplementedError

    def shown_refusal(self) -> ValidationError | None:
        """The refusal the page already shows instead of its form (not repeated above it)."""
        raise NotImplementedError

    def form_valid(self, form):
        try:
            self.call(form)
        except ValidationError as exc:
            shown = self.shown_refusal()
            if shown is None or shown.code != exc.code:
                place_error(form, exc, FIELD_ERRORS)
            return self.form_invalid(form)
        messages.success(self.request, self.done_message)
        return redirect("wallet:overview")


class WalletOpenView(WalletFormMixin, FormView):
    template_name = "wallet/open.html"
    form_class = WalletOpenForm
    done_message = OPENED

    def get_form_kwargs(self):
        page = self.page
        return {
            **super().get_form_kwargs(),
            "place": page.insured_place,
            "phone": page.masked_phone,
        }

    def shown_refusal(self) -> ValidationError | None:
        return self.page.open_refusal

    def call(self, form) -> None:
        services.wallet_open(
            person=self.person,
            actor=self.request.user,
            channel=AuditEntry.Channel.ONLINE,
            confirm_place=form.cleaned_data["confirm_place"],
            confirm_phone=form.cleaned_data["confirm_phone"],
        )


class WalletCloseView(WalletFormMixin, FormView):
    template_name = "wallet/close.html"
    form_class = WalletCloseForm
    done_message = CLOSED

    def shown_refusal(self) -> ValidationError | None:
        return self.page.close_refusal

    def call(self, form) -> None:
        services.wallet_close(
            person=self.person, actor=self.request.user, channel=AuditEntry.Channel.ONLINE
        )
