"""The transfer pages (R24, R25): 医保钱包转账申请 in two steps, the transfers a person sent and
received, and one transfer with the recipient's 接收 / 拒收.

Thin views, as the wallet's other pages: the forms parse, `selectors.transfers` reads (scoped to
the person who asks: another person's transfer is a 404) and does the dry run of step 1,
`services` change state and check every rule again. A refusal is shown in the page and changes
nothing.

The send page's steps: 1 (`check`) the form, checked with the read-only checks; 2 (`confirm`)
the same values again, hidden, with the password, which the service verifies and
`accounts.reauth` counts against the login lockout, exactly as the consent answer does. The
idempotency key is made when the form is first shown and rides along in a hidden field."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views import View
from django_ratelimit.decorators import ratelimit

from accounts.models import AuditEntry
from accounts.reauth import (
    reauth_failed,
    reauth_locked,
    reauth_lockout,
    reauth_tries_left_message,
)
from accounts.selectors import person_for_user
from accounts.staff import page_context
from family.forms import place_error
from family.models import Relation

from .. import services
from ..forms import (
    CONFIRM,
    EDIT,
    TRANSFER_FIELD_ERRORS,
    TransferAnswerForm,
    TransferConfirmForm,
    TransferFilterForm,
    TransferSendForm,
)
from ..models import Transfer
from ..rules import answer_by
from ..selectors import transfers as selectors

ONLINE = AuditEntry.Channel.ONLINE
TRANSFERS_PER_PAGE = 20
# Per login: step 1 looks a name and number up in the register, step 2 checks a password.
SEND_RATE = "30/15m"

SENT = _("已向%(name)s转出%(amount)s元，等待对方接收。")
SENT_BEFORE = _("这笔转账已经提交，无需重复提交。")
ACCEPTED = _("已接收%(amount)s元，已存入您的医保钱包。")
DECLINED = _("已拒收，%(amount)s元已退回转出人的个人账户。")
FILTER_INVALID = _("查询条件有误，请按提示修改后重新查询")


class PersonMixin(LoginRequiredMixin):
    """`self.person`: the login's insured person (with its region). Without one (staff), a list
    or form page goes to the wallet overview, which explains; an object page is a 404."""

    person = None
    object_page = False

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.person = person_for_user(user=request.user)
            if self.person is None:
                if self.object_page:
                    raise Http404
                return redirect("wallet:overview")
        return super().dispatch(request, *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# 医保钱包转账申请


def _money(amount) -> str:
    return f"{amount:.2f}"


@method_decorator(ratelimit(key="user", rate=SEND_RATE, method="POST", block=True), name="post")
class TransferSendView(PersonMixin, View):
    def _state(self) -> selectors.SendState:
        return selectors.send_state(sender=self.person, at=timezone.now())

    def _back(self) -> str:
        return reverse("wallet:overview")

    def get(self, request):
        form = TransferSendForm(initial={"idempotency_key": uuid.uuid4()}, back_url=self._back())
        return self._render_send(form, self._state())

    def post(self, request):
        state = self._state()
        form = TransferSendForm(request.POST, back_url=self._back())
        step = request.POST.get("step")
        if step == EDIT:  # back from the confirmation: the values again, unchecked
            typed = {name: request.POST.get(name, "") for name in form.fields}
            typed["idempotency_key"] = form.data["idempotency_key"]
            return self._render_send(TransferSendForm(initial=typed, back_url=self._back()), state)
        if not form.is_valid():
            return self._render_send(form, state)
        data = form.cleaned_data
        try:
            recipient = services.transfer_recipient(
                sender=self.person, name=data["name"], id_number=data["id_number"]
            )
        except ValidationError as exc:
            place_error(form, exc, TRANSFER_FIELD_ERRORS)
            return self._render_send(form, state)
        if step == CONFIRM:
            return self._send(form, recipient)
        refusal = selectors.send_refusal(
            state=state,
            sender=self.person,
            recipient=recipient,
            relation=data["relation"],
            amount=data["amount"],
        )
        if refusal is not None:
            return self._refused(form, refusal, state)
        confirm = TransferConfirmForm(
            initial=form.values, amount_label=form.values["amount"], back_url=self._back()
        )
        return self._render_confirm(confirm, form, recipient, state)

    def _send(self, form, recipient):
        request, user = self.request, self.request.user
        values = form.values
        confirm = TransferConfirmForm(
            form.data, amount_label=values["amount"], back_url=self._back()
        )
        if not confirm.is_valid():  # the password left empty
            return self._render_confirm(confirm, form, recipient, self._state())
        # The password asked again counts against the login lockout (issue 13 point 11).
        if reauth_locked(request, user):
            return reauth_lockout(request, user)
        data = form.cleaned_data
        try:
            transfer, created = services.transfer_send(
                sender=self.person,
                actor=user,
                channel=ONLINE,
                recipient=recipient,
                relation=data["relation"],
                amount=data["amount"],
                idempotency_key=values["idempotency_key"],
                evidence=confirm.cleaned_data["password"],
            )
        except ValidationError as exc:
            if exc.code == "transfer_verification_failed":
                if reauth_failed(request, user):
                    return reauth_lockout(request, user)
                confirm.add_error("password", exc)
                confirm.add_error("password", reauth_tries_left_message(request, user))
                return self._render_confirm(confirm, form, recipient, self._state())
            return self._refused(form, exc, self._state())
        if created:
            done = SENT % {"name": recipient.masked_name, "amount": _money(transfer.amount)}
            messages.success(request, done)
        else:
            messages.info(request, SENT_BEFORE)
        return redirect("wallet:transfer", public_id=transfer.public_id)

    def _refused(self, form, exc: ValidationError, state):
        """Step 1 again with the refusal; one the page already shows instead of the form (the
        night, the limits) is not said twice."""
        if state.refusal is None or state.refusal.code != exc.code:
            place_error(form, exc, TRANSFER_FIELD_ERRORS)
        return self._render_send(form, state)

    def _render_send(self, form, state):
        return render(
            self.request,
            "wallet/transfer_send.html",
            {"person": self.person, "state": state, "form": form},
        )

    def _render_confirm(self, confirm, form, recipient, state):
        data = form.cleaned_data
        return render(
            self.request,
            "wallet/transfer_confirm.html",
            {
                "person": self.person,
                "state": state,
                "form": confirm,
                "recipient_name": recipient.masked_name,
                "recipient_place": selectors.region_place(recipient.region),
                "relation": Relation(data["relation"]).label,
                "amount": _money(data["amount"]),
                "answer_by": answer_by(timezone.now()),
            },
        )


# ---------------------------------------------------------------------------------------------
# the transfers a person sent and received


class TransferListView(PersonMixin, View):
    def get(self, request):
        form = TransferFilterForm(request.GET or None)
        context = {"person": self.person, "form": form}
        if form.is_bound and not form.is_valid():
            # An invalid filter lists nothing rather than an unfiltered list that looks filtered.
            context["filter_invalid"] = FILTER_INVALID
        else:
            rows = selectors.transfers_filtered(person=self.person, **form.filters)
            page = Paginator(rows, TRANSFERS_PER_PAGE).get_page(request.GET.get("page"))
            context.update(
                show_results=True,
                filtered=form.filtered,
                **page_context(page),
                transfers=list(page.object_list),
            )
        return render(request, "wallet/transfer_list.html", context)


class TransferDetailView(PersonMixin, View):
    """One transfer the person sent or received, found only through `transfer_for` (anyone
    else's is a 404); its recipient answers a pending one here (R25)."""

    object_page = True

    def dispatch(self, request, *args, **kwargs):
        self.transfer = None
        return super().dispatch(request, *args, **kwargs)

    def _transfer(self) -> Transfer:
        transfer = selectors.transfer_for(person=self.person, public_id=self.kwargs["public_id"])
        if transfer is None:
            raise Http404
        return transfer

    def get(self, request, public_id):
        transfer = self._transfer()
        return self._render(transfer, self._answer_form(transfer))

    def post(self, request, public_id):
        transfer = self._transfer()
        form = self._answer_form(transfer, request.POST)
        if not form.is_valid():
            return self._render(transfer, form)
        answer = services.transfer_accept if form.accept else services.transfer_decline
        try:
            transfer = answer(transfer=transfer, actor=request.user, channel=ONLINE)
        except ValidationError as exc:
            form.add_error(None, exc)
            return self._render(self._transfer(), form)
        done = ACCEPTED if form.accept else DECLINED
        messages.success(request, done % {"amount": _money(transfer.amount)})
        return redirect("wallet:transfer", public_id=transfer.public_id)

    @staticmethod
    def _answer_form(transfer, data=None) -> TransferAnswerForm:
        return TransferAnswerForm(data, amount_label=_money(transfer.amount))

    def _render(self, transfer, form):
        is_recipient = transfer.wallet.person_id == self.person.pk
        answerable = (
            is_recipient
            and transfer.status == Transfer.Status.PENDING
            and timezone.now() < transfer.answer_by
        )
        return render(
            self.request,
            "wallet/transfer_detail.html",
            {
                "person": self.person,
                "transfer": transfer,
                "is_recipient": is_recipient,
                "answerable": answerable,
                "form": form,
                "owing_place": selectors.region_place(transfer.owing_region),
            },
        )
