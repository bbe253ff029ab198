"""Member pages: pending consents and the answer (R8, R22), the deduction order (R10, R21), the
revoke and leave confirmations (R15) and 共济账户授权记录查询 (R15).

Thin views, as in `binding.py`: forms parse input, `services` change state and own every rule,
`selectors` read and scope each object to the login that asks (anyone else gets 404). A service
`ValidationError` is shown on the page and changes nothing. A staff login or a login without an
insured person sees the same explanation as on the overview; an object page answers 404."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView, TemplateView
from django_ratelimit.decorators import ratelimit

from accounts.models import AuditEntry, InsuredPerson
from accounts.reauth import (
    reauth_failed,
    reauth_locked,
    reauth_lockout,
    reauth_tries_left_message,
)
from accounts.selectors import person_is_minor
from accounts.staff import page_context
from family import errors, selectors, services
from family.forms import place_error
from family.forms.member import (
    ConsentAnswerForm,
    LeaveForm,
    OrderMoveForm,
    RecordFilterForm,
    RevokeForm,
)
from family.models import Authorization
from family.views.binding import CitizenMixin

ONLINE = AuditEntry.Channel.ONLINE
RECORDS_PER_PAGE = 20

CONSENT_AGREED = _("您已同意%(holder)s的家庭共济绑定请求（共济成员：%(member)s）。")
CONSENT_DECLINED = _("您已拒绝%(holder)s的家庭共济绑定请求（共济成员：%(member)s）。")
ORDER_MOVED = _("扣款顺序已更新：%(holder)s现排在第%(position)s位。")
ORDER_ROW_GONE = _("该主账户人已不在扣款顺序中，请查看最新的顺序后再调整")


def order_move(request, *, member: InsuredPerson, channel: str, render):
    """The POST of one 上移/下移 on a member's deduction order (R10), for the citizen's page and
    the counter's alike: the posted public id is looked up only in this member's current order;
    `render(member, error=, rows=)` shows the page again with a message."""
    form = OrderMoveForm(request.POST)
    if not form.is_valid():
        return render(member, error=errors.ORDER_MISMATCH)
    rows = selectors.deduction_order_for(member=member)
    wanted = form.cleaned_data["authorization"]
    item = next((a for a in rows if a.public_id == wanted), None)
    if item is None:
        return render(member, error=ORDER_ROW_GONE, rows=rows)
    try:
        services.deduction_order_move(
            authorization=item, direction=form.step, actor=request.user, channel=channel
        )
    except ValidationError as exc:
        return render(member, error=" ".join(exc.messages))
    position = min(max(rows.index(item) + 1 + form.step, 1), len(rows))
    messages.success(request, str(ORDER_MOVED) % {"holder": item.holder.name, "position": position})
    return redirect(request.path)


REVOKED = _("已解除%(member)s的共济授权，即时生效。")
LEFT = _("已退出%(holder)s的家庭共济（共济成员：%(member)s），即时生效。")
RECORDS_FILTER_INVALID = _("查询条件有误，请按提示修改后重新查询")

# Service messages that belong next to one field; every other one goes above the form.
CONSENT_FIELD_ERRORS = {"consent_verification_failed": "password"}


def _state(item: Authorization, at: dt.datetime) -> str:
    """The words for one row's state; also sets `item.usable`, which colours the badge."""
    selectors.label_all([item], at=at)
    return item.state


# ---------------------------------------------------------------------------------------------
# consents (R8, R22)


class ConsentListView(CitizenMixin, TemplateView):
    """Requests waiting for this person's answer: their own and their registered wards'."""

    template_name = "family/consent_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["person"] = self.person
        if self.person is not None:
            context["consents"] = selectors.consents_pending_for(
                person=self.person, at=timezone.now()
            )
        return context


class MemberAuthorizationMixin(LoginRequiredMixin):
    """A page about one authorization of the login as member, or of a ward they act for:
    `self.now` and `self.authorization` (404 for anyone else); the context has the item, its
    state now and whether the login acts for a ward."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.now = timezone.now()
            self.authorization = selectors.authorization_get_for_member(
                user=request.user, public_id=kwargs["public_id"], at=self.now
            )
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        item = self.authorization
        return super().get_context_data(
            authorization=item,
            state=_state(item, self.now),
            for_ward=item.member.user_id != self.request.user.pk,
            **kwargs,
        )


# Per login, so a guessed password cannot be tried without end (the service re-verifies it).
@method_decorator(ratelimit(key="user", rate="10/15m", method="POST", block=True), name="post")
class ConsentAnswerView(MemberAuthorizationMixin, FormView):
    template_name = "family/consent_answer.html"
    form_class = ConsentAnswerForm

    def get_context_data(self, **kwargs):
        item = self.authorization
        answerable = item.status == Authorization.Status.PENDING_CONSENT and (
            item.consent_deadline is None or self.now <= item.consent_deadline
        )
        return super().get_context_data(answerable=answerable, **kwargs)

    def form_valid(self, form):
        item, user = self.authorization, self.request.user
        # The password asked again counts against the login lockout (issue 13 point 11).
        if reauth_locked(self.request, user):
            return reauth_lockout(self.request, user)
        try:
            services.authorization_answer(
                authorization=item,
                agree=form.agree,
                actor=user,
                evidence=form.cleaned_data["password"],
            )
        except ValidationError as exc:
            if exc.code == "consent_verification_failed":
                if reauth_failed(self.request, user):
                    return reauth_lockout(self.request, user)
                form.add_error("password", exc)
                form.add_error("password", reauth_tries_left_message(self.request, user))
                return self.form_invalid(form)
            place_error(form, exc, CONSENT_FIELD_ERRORS)
            return self.form_invalid(form)
        done = CONSENT_AGREED if form.agree else CONSENT_DECLINED
        names = {"holder": item.holder.name, "member": item.member.name}
        messages.success(self.request, str(done) % names)
        return redirect("family:overview")


# ---------------------------------------------------------------------------------------------
# deduction order (R10, R21)


class OrderView(CitizenMixin, View):
    """/family/order/: my own order; /family/order/<member>/: a ward's or a minor's I bind.

    上移/下移 are plain POST forms, one per row. The posted public id is looked up only in this
    member's live list, so a hand-made id of someone else's authorization finds nothing."""

    template_name = "family/order.html"

    #: None: ask `selectors.may_set_order` when the page is drawn.
    may_set: bool | None = None

    def _member(self) -> InsuredPerson | None:
        if "public_id" in self.kwargs:  # 404 unless the login may set this person's order
            member = selectors.member_get_for_order(
                user=self.request.user, public_id=self.kwargs["public_id"], at=self.now
            )
            self.may_set = True  # the selector has just checked it
            return member
        return self.person

    def dispatch(self, request, *args, **kwargs):
        self.now = timezone.now()
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        return self._render(self._member())

    def post(self, request, *args, **kwargs):
        member = self._member()
        if member is None:
            return self._render(None)
        return order_move(request, member=member, channel=ONLINE, render=self._render)

    def _render(self, member, *, error=None, rows=None):
        context = {
            "person": self.person,
            "member": member,
            "error": error,
            "order_not_allowed": errors.ORDER_NOT_ALLOWED,
        }
        if member is not None:
            if rows is None:
                rows = selectors.deduction_order_for(member=member)
            rows = selectors.label_all(rows, at=self.now)
            may_set = self.may_set
            if may_set is None:
                may_set = selectors.may_set_order(
                    actor_person=self.person, member=member, at=self.now
                )
            action = self.request.path
            last = len(rows) - 1
            context.update(
                {
                    "is_self": member.pk == self.person.pk,
                    "may_set": may_set,
                    "rows": [
                        (
                            item,
                            OrderMoveForm(
                                initial={"authorization": item.public_id},
                                holder_name=item.holder.name,
                                first=i == 0,
                                last=i == last,
                                action=action,
                            )
                            if may_set and last > 0
                            else None,
                        )
                        for i, item in enumerate(rows)
                    ],
                    "any_unset": any(item.deduction_position is None for item in rows),
                    "is_minor": person_is_minor(person=member, at=self.now),
                    "wards": selectors.wards_for(person=self.person, at=self.now)
                    if member.pk == self.person.pk
                    else [],
                }
            )
        return render(self.request, self.template_name, context)


# ---------------------------------------------------------------------------------------------
# revoke (holder) and leave (member or guardian), R15


def is_last_member(item: Authorization) -> bool:
    """Whether ending `item` leaves its relationship without a live member (the confirm pages
    say that the relationship ends too)."""
    return item.is_live and not selectors.relationship_has_other_live(authorization=item)


class AuthorizationRevokeMixin:
    """Revoking `self.authorization` (R15), online by its holder or for them at the counter:
    the same service with the form's reason; a `ValidationError` is shown on the form, otherwise
    `revoked(item)` answers. Only the channel and what follows differ."""

    channel: str

    def form_valid(self, form):
        item = self.authorization
        try:
            services.authorization_revoke(
                authorization=item,
                actor=self.request.user,
                channel=self.channel,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        return self.revoked(item)


class RevokeView(AuthorizationRevokeMixin, LoginRequiredMixin, FormView):
    template_name = "family/revoke_confirm.html"
    form_class = RevokeForm
    channel = ONLINE

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.authorization = selectors.authorization_get_for_holder(
                user=request.user, public_id=kwargs["public_id"]
            )
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        item = self.authorization
        return super().get_context_data(
            authorization=item,
            state=_state(item, timezone.now()),
            last_member=is_last_member(item),
            **kwargs,
        )

    def revoked(self, item):
        messages.success(self.request, str(REVOKED) % {"member": item.member.name})
        return redirect("family:overview")


class LeaveView(MemberAuthorizationMixin, FormView):
    template_name = "family/leave_confirm.html"
    form_class = LeaveForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(last_member=is_last_member(self.authorization), **kwargs)

    def form_valid(self, form):
        item = self.authorization
        try:
            services.authorization_leave(
                authorization=item, actor=self.request.user, channel=ONLINE
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        names = {"holder": item.holder.name, "member": item.member.name}
        messages.success(self.request, str(LEFT) % names)
        return redirect("family:overview")


# ---------------------------------------------------------------------------------------------
# 共济账户授权记录查询 (R15)


class RecordListView(CitizenMixin, TemplateView):
    template_name = "family/record_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["person"] = self.person
        if self.person is None:
            return context
        form = RecordFilterForm(self.request.GET or None)
        context["form"] = form
        # An invalid filter lists nothing rather than an unfiltered list that looks filtered.
        if form.is_bound and not form.is_valid():
            context["filter_invalid"] = RECORDS_FILTER_INVALID
            return context
        filters = form.cleaned_data if form.is_bound else {}
        records = selectors.records_for(
            person=self.person,
            status=filters.get("status") or None,
            date_from=filters.get("date_from"),
            date_to=filters.get("date_to"),
        )
        page = Paginator(records, RECORDS_PER_PAGE).get_page(self.request.GET.get("page"))
        now = timezone.now()
        context.update(
            {
                "show_results": True,
                **page_context(page),
                "rows": selectors.label_all(list(page.object_list), at=now),
                "filtered": any(filters.get(k) for k in ("status", "date_from", "date_to")),
                "records_url": reverse("family:records"),
            }
        )
        return context
