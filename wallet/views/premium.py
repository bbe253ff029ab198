"""The wallet premium page (R26): a person pays their own resident premium from their wallet.
Thin: the checks are `payments.selectors.premium.premium_own_check` (shown before paying), the
payment is `services.wallet_premium_pay`; the receipt is the premium's own page."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import FormView

from accounts.models import AuditEntry
from accounts.selectors import person_for_user
from payments.selectors.premium import premium_own_check, premium_years_for

from .. import selectors, services
from ..forms_premium import WalletPremiumForm


class WalletPremiumView(LoginRequiredMixin, FormView):
    template_name = "wallet/premium.html"
    form_class = WalletPremiumForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.person = person_for_user(user=request.user)
            if self.person is None:
                return redirect("wallet:overview")
            self.wallet = selectors.wallet_for_person(person=self.person)
            premiums = premium_years_for(region_ids={self.person.region_id})  # newest first
            self.years = [p.year for p in premiums]
            today = timezone.localdate()
            started = [p.year for p in premiums if p.collection_start <= today]
            self.default_year = started[0] if started else (self.years[-1] if premiums else None)
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "years": self.years}

    def get_initial(self):
        return {**super().get_initial(), "year": self.default_year}

    def _year(self, form) -> int | None:
        raw = form.data.get("year") if form.is_bound else self.request.GET.get("year")
        try:
            year = int(raw) if raw else self.default_year
        except (TypeError, ValueError):
            return None
        return year if year in self.years else None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        year = self._year(context["form"])
        check = (
            premium_own_check(member=self.person, year=year, at=timezone.now())
            if year is not None
            else None
        )
        context.update(person=self.person, wallet=self.wallet, year=year, check=check)
        return context

    def form_valid(self, form):
        try:
            payment, _created = services.wallet_premium_pay(
                person=self.person,
                year=form.cleaned_data["year"],
                idempotency_key=form.cleaned_data["key"],
                actor=self.request.user,
                channel=AuditEntry.Channel.ONLINE,
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
            return self.form_invalid(form)
        return redirect("payments:premium-detail", public_id=payment.public_id)
