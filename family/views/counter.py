"""Counter actions of the staff console (issue 6): revoke a member, end a relationship, set a
member's deduction order, change a person's insured status (R10, R14, R15, R20).

Each is a GET confirmation page and a POST through a crispy form. Objects come from the
region-scoped selectors (an authorization or a relationship by its HOLDER's region, a person by
their own region): another region's object is a 404. The existing family services do the work
with channel counter and the staff user as actor, so every change is audited (R20) and both
sides are told (R14, R15). A refusal is shown on the page and changes nothing."""

from __future__ import annotations

from functools import cached_property

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView

from accounts.models import AuditEntry, InsuredPerson
from accounts.selectors import person_get_for_staff
from accounts.staff import StaffRequiredMixin
from family import selectors, services
from family.forms.counter_actions import (
    CounterRevokeForm,
    PersonStatusForm,
    RelationshipEndForm,
)
from family.forms.member import OrderMoveForm
from family.models import Authorization, Relationship
from family.views.member import AuthorizationRevokeMixin, is_last_member, order_move

COUNTER = AuditEntry.Channel.COUNTER

REVOKED = _("已解除%(member)s的共济授权（主账户人：%(holder)s），即时生效。")
RELATIONSHIP_ENDED = _("已终止%(holder)s的家庭共济关系，全部共济成员的授权即时终止。")
STATUS_CHANGED = _("已将%(name)s的参保状态变更为“%(status)s”。")
# R14
STATUS_ENDED_RELATIONSHIPS = _("其作为主账户人和共济成员的有效授权已即时终止，相关各方已收到通知。")


class CounterMixin(StaffRequiredMixin):
    def get_context_data(self, **kwargs):
        return super().get_context_data(staff_section="persons", **kwargs)


def _state(item: Authorization) -> Authorization:
    selectors.label_all([item], at=timezone.now())
    return item


# ---------------------------------------------------------------------------------------------
# revoke one member (R15)


class AuthorizationRevokeView(AuthorizationRevokeMixin, CounterMixin, FormView):
    template_name = "staff/counter_revoke.html"
    form_class = CounterRevokeForm
    channel = COUNTER
    permission_required = ("accounts.view_insuredperson", "family.change_authorization")

    @cached_property
    def authorization(self) -> Authorization:
        return selectors.authorization_get_for_staff(
            user=self.request.user, public_id=self.kwargs["public_id"]
        )

    def get_context_data(self, **kwargs):
        item = _state(self.authorization)
        return super().get_context_data(
            authorization=item,
            last_member=is_last_member(item),
            **kwargs,
        )

    def revoked(self, item):
        names = {"member": item.member.name, "holder": item.holder.name}
        messages.success(self.request, str(REVOKED) % names)
        return redirect("staff:person", public_id=item.holder.public_id)


# ---------------------------------------------------------------------------------------------
# end a whole relationship (R15)


class RelationshipEndView(CounterMixin, FormView):
    template_name = "staff/counter_relationship_end.html"
    form_class = RelationshipEndForm
    permission_required = ("accounts.view_insuredperson", "family.change_relationship")

    @cached_property
    def relationship(self) -> Relationship:
        return selectors.relationship_get_for_staff(
            user=self.request.user, public_id=self.kwargs["public_id"]
        )

    def get_context_data(self, **kwargs):
        relationship = self.relationship
        members = selectors.relationship_live_authorizations(relationship=relationship)
        return super().get_context_data(
            relationship=relationship,
            members=selectors.label_all(members, at=timezone.now()),
            **kwargs,
        )

    def form_valid(self, form):
        relationship = self.relationship
        data = form.cleaned_data
        try:
            services.relationship_end(
                relationship=relationship,
                actor=self.request.user,
                channel=COUNTER,
                reason=data["end_reason"],
                note=data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        holder = relationship.holder
        messages.success(self.request, str(RELATIONSHIP_ENDED) % {"holder": holder.name})
        return redirect("staff:person", public_id=holder.public_id)


# ---------------------------------------------------------------------------------------------
# a member's deduction order (R10)


class MemberOrderView(CounterMixin, View):
    """The member's live holders in order, each with 上移/下移 (plain POST forms, no JS). The
    posted public id is looked up only in this member's live list."""

    template_name = "staff/counter_order.html"
    permission_required = ("accounts.view_insuredperson", "family.change_authorization")

    def _member(self) -> InsuredPerson:
        return person_get_for_staff(user=self.request.user, public_id=self.kwargs["public_id"])

    def get(self, request, *args, **kwargs):
        return self._render(self._member())

    def post(self, request, *args, **kwargs):
        member = self._member()
        return order_move(request, member=member, channel=COUNTER, render=self._render)

    def _render(self, member, *, error=None, rows=None):
        if rows is None:
            rows = selectors.deduction_order_for(member=member)
        rows = selectors.label_all(rows, at=timezone.now())
        last = len(rows) - 1
        forms = [
            OrderMoveForm(
                initial={"authorization": item.public_id},
                holder_name=item.holder.name,
                first=i == 0,
                last=i == last,
                action=self.request.path,
            )
            if last > 0
            else None
            for i, item in enumerate(rows)
        ]
        context = {
            "staff_section": "persons",
            "member": member,
            "rows": list(zip(rows, forms, strict=True)),
            "error": error,
        }
        return render(self.request, self.template_name, context)


# ---------------------------------------------------------------------------------------------
# insured status (R14)


class PersonStatusView(CounterMixin, FormView):
    template_name = "staff/counter_person_status.html"
    form_class = PersonStatusForm
    permission_required = ("accounts.view_insuredperson", "accounts.change_insuredperson")

    @cached_property
    def person(self) -> InsuredPerson:
        return person_get_for_staff(user=self.request.user, public_id=self.kwargs["public_id"])

    def get_context_data(self, **kwargs):
        as_holder, as_member = selectors.person_live_authorizations(person=self.person)
        now = timezone.now()
        return super().get_context_data(
            person=self.person,
            as_holder=selectors.label_all(as_holder, at=now),
            as_member=selectors.label_all(as_member, at=now),
            **kwargs,
        )

    def form_valid(self, form):
        person = self.person
        status = form.cleaned_data["status"]
        try:
            person = services.person_status_change(
                person=person,
                status=status,
                reason=form.cleaned_data["reason"],
                actor=self.request.user,
                channel=COUNTER,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        text = str(STATUS_CHANGED) % {"name": person.name, "status": person.get_status_display()}
        if status in services.ENDING_STATUSES:
            text += str(STATUS_ENDED_RELATIONSHIPS)
        messages.success(self.request, text)
        return redirect("staff:person", public_id=person.public_id)
