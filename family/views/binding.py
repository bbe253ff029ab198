"""Holder pages: overview, bind wizard, letters, one authorization, window change, payment cap.

Thin views: forms parse input, `services` change state and own every rule, `selectors` read and
scope each object to the login that asks (anyone else gets 404). A service `ValidationError` is
shown on the page (next to the field it concerns, otherwise above the form) and changes nothing.

The bind wizard is a small hand-written session flow rather than formtools' SessionWizardView:
the member step needs an "添加一人" submit that re-renders without validating, and a refused
signature must re-show the sign step with the draft intact, both of which fight the wizard's
own storage handling. The session keeps only the rows as typed; every later step re-validates
them through the same formset (and so through `selectors.bind_check`)."""

from __future__ import annotations

import datetime as dt
import re

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView, TemplateView

from accounts.models import AuditEntry
from accounts.selectors import person_for_user
from family import letters, selectors, services
from family.forms import place_error
from family.forms.binding import (
    LOCAL_INPUT_FORMAT,
    MAX_MEMBERS_PER_REQUEST,
    MEMBER_PREFIX,
    CapForm,
    MemberFormSet,
    SignForm,
    WindowForm,
    WindowSignForm,
    member_formset_helper,
)
from family.models import Authorization, CommitmentLetter, Relation

ONLINE = AuditEntry.Channel.ONLINE
DRAFT_SESSION_KEY = "family.bind.draft"

DRAFT_MISSING = _("请先填写要添加的家庭成员")
BIND_SIGNED = _("承诺书已签署。")
BIND_ACTIVE_NOW = _("现已生效：%(names)s。")
BIND_ACTIVE_LATER = _("到授权开始时间后生效：%(names)s。")
BIND_PENDING = _("须本人在%(deadline)s前登录本系统确认同意后生效：%(names)s。")
WINDOW_CHANGED = _("新的承诺书已签署，%(name)s的授权期限已变更。")
CAP_SET = _("已将%(name)s的单笔支付上限设为%(cap)s元。")
CAP_CLEARED = _("已取消%(name)s的单笔支付上限。")
NAME_SEPARATOR = "、"

# Service errors (by code) that belong next to one field; every other one goes above the form.
SIGN_FIELD_ERRORS = {
    "signature_name_mismatch": "signed_name",
    "signature_image_invalid": "signature_image",
    "signature_image_too_large": "signature_image",
}
# R6: every refusal of a window.
WINDOW_FIELD_ERRORS = {
    "window_start_past": "window_start",
    "window_end_not_after_start": "window_end",
    "window_end_past": "window_end",
    "window_too_long": "window_end",
    "window_end_required": "window_end",
}
CAP_FIELD_ERRORS = {"cap_invalid": "cap"}


def local_input(value: dt.datetime | None) -> str:
    """An aware datetime as a datetime-local input shows it (Asia/Shanghai)."""
    return "" if value is None else timezone.localtime(value).strftime(LOCAL_INPUT_FORMAT)


class CitizenMixin(LoginRequiredMixin):
    """`self.person`: the insured person of the logged-in citizen; None for staff or a login
    that has no insured person (those pages then explain, or answer 404 for an object)."""

    person = None
    #: True: a login without an insured person goes to the overview, which explains why.
    person_required = False

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.person = person_for_user(user=request.user)
            if self.person is None and self.person_required:
                return redirect("family:overview")
        return super().dispatch(request, *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# 我的家庭共济


class FamilyOverviewView(CitizenMixin, TemplateView):
    template_name = "family/overview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["person"] = self.person
        if self.person is not None:
            context["overview"] = selectors.family_overview(person=self.person, at=timezone.now())
        return context


# ---------------------------------------------------------------------------------------------
# bind wizard: 1 members -> 2 review -> 3 sign


class BindWizardView(CitizenMixin, View):
    person_required = True
    templates = {
        "members": "family/bind_members.html",
        "review": "family/bind_review.html",
        "sign": "family/bind_sign.html",
    }

    # -- GET ----------------------------------------------------------------------------------

    def get(self, request):
        step = request.GET.get("step")
        if step in ("review", "sign"):
            formset = self._draft_formset()
            if formset is None:
                messages.info(request, DRAFT_MISSING)
                return redirect("family:bind")
            if not formset.is_valid():
                return self._render_members(formset)
            if step == "review":
                return self._render_review(formset)
            return self._render_sign(formset, SignForm())
        rows = self._draft_rows()
        formset = MemberFormSet(prefix=MEMBER_PREFIX, holder=self.person, initial=rows or None)
        return self._render_members(formset)

    # -- POST ---------------------------------------------------------------------------------

    def post(self, request):
        if request.POST.get("step") == "sign":
            return self._post_sign()
        return self._post_members()

    def _post_members(self):
        formset = MemberFormSet(self.request.POST, prefix=MEMBER_PREFIX, holder=self.person)
        if "add" in self.request.POST or "remove" in self.request.POST:
            return self._render_members(self._reshaped(formset))
        if formset.is_valid():
            filled = formset.filled_forms()
            rows = [
                row
                for form, row in zip(formset.forms, formset.raw_rows(), strict=True)
                if form in filled
            ]
            self.request.session[DRAFT_SESSION_KEY] = {"holder": self.person.pk, "rows": rows}
            return HttpResponseRedirect(reverse("family:bind") + "?step=review")
        return self._render_members(formset)

    def _reshaped(self, formset):
        """The no-JavaScript "添加一人" / "删除此人": the same rows re-shown, one more or one
        fewer, without validating (nothing is checked until "下一步")."""
        rows = formset.raw_rows()
        remove = self.request.POST.get("remove", "")
        # ASCII digits only: "²".isdigit() is True and int() refuses it (found by tests/properties).
        if re.fullmatch(r"[0-9]{1,3}", remove) and int(remove) < len(rows) and len(rows) > 1:
            del rows[int(remove)]
        if "add" in self.request.POST and len(rows) < MAX_MEMBERS_PER_REQUEST:
            rows.append({})
        return MemberFormSet(prefix=MEMBER_PREFIX, holder=self.person, initial=rows or None)

    def _post_sign(self):
        formset = self._draft_formset()
        if formset is None:
            messages.info(self.request, DRAFT_MISSING)
            return redirect("family:bind")
        if not formset.is_valid():
            return self._render_members(formset)
        form = SignForm(self.request.POST)
        if form.is_valid():
            try:
                letter = services.relationship_bind(
                    holder=self.person,
                    members=formset.member_requests,
                    signature=form.signature(),
                    actor=self.request.user,
                    channel=ONLINE,
                    expected_hash=form.cleaned_data["letter_hash"],
                )
            except ValidationError as exc:
                place_error(form, exc, SIGN_FIELD_ERRORS)
            else:
                self.request.session.pop(DRAFT_SESSION_KEY, None)
                messages.success(self.request, self._outcome(letter, formset.member_requests))
                return redirect("family:letter-detail", public_id=letter.public_id)
        return self._render_sign(formset, form)

    # -- helpers ------------------------------------------------------------------------------

    def _draft_rows(self) -> list[dict] | None:
        draft = self.request.session.get(DRAFT_SESSION_KEY) or {}
        if draft.get("holder") != self.person.pk:
            return None
        return draft.get("rows") or None

    def _draft_formset(self):
        rows = self._draft_rows()
        if not rows:
            return None
        return MemberFormSet(
            MemberFormSet.data_from_rows(rows), prefix=MEMBER_PREFIX, holder=self.person
        )

    def _holder_problem(self) -> ValidationError | None:
        """R2/R5/R21 problems of the holder alone, so the page can say so before any typing."""
        try:
            selectors.bind_check(holder=self.person, members=[])
        except ValidationError as exc:
            return exc
        return None

    def _preview(self, formset) -> tuple[str, str]:
        return selectors.letter_preview_for_binding(
            holder=self.person, members=formset.member_requests, channel=ONLINE
        )

    def _context(self, step: str, **extra) -> dict:
        policy = self.person.region
        return {"person": self.person, "policy": policy, "step": step, **extra}

    @staticmethod
    def _members(formset) -> list[tuple[services.MemberRequest, str]]:
        return [(r, Relation(r.relation).label) for r in formset.member_requests]

    def _render_members(self, formset):
        problem = None if formset.is_bound else self._holder_problem()
        context = self._context(
            "members",
            formset=formset,
            helper=member_formset_helper(),
            holder_problem=problem,
            max_members=MAX_MEMBERS_PER_REQUEST,
        )
        return render(self.request, self.templates["members"], context)

    def _render_review(self, formset):
        version, text = self._preview(formset)
        context = self._context(
            "review",
            members=self._members(formset),
            letter_version=version,
            letter_text=text,
        )
        return render(self.request, self.templates["review"], context)

    def _render_sign(self, formset, form):
        version, text = self._preview(formset)
        content_hash = CommitmentLetter.hash_text(text)
        # The digest always belongs to the text on this page: after a refusal (for instance
        # LETTER_CHANGED) the holder reads the text again and signs what is shown now.
        if form.is_bound:
            form.data = form.data.copy()
            form.data["letter_hash"] = content_hash
        else:
            form.initial["letter_hash"] = content_hash
        context = self._context(
            "sign",
            members=self._members(formset),
            letter_version=version,
            letter_text=text,
            form=form,
        )
        return render(self.request, self.templates["sign"], context)

    def _outcome(self, letter: CommitmentLetter, requests) -> str:
        """Who is active now, who from a later start, who must confirm first (R8)."""
        wanted = {r.person.pk for r in requests}
        new = [a for a in selectors.letter_authorizations(letter=letter) if a.member_id in wanted]
        now = timezone.now()
        active_now = [
            a.member.name
            for a in new
            if a.status in Authorization.GRANTED_STATUSES and a.window_start <= now
        ]
        active_later = [
            a.member.name
            for a in new
            if a.status in Authorization.GRANTED_STATUSES and a.window_start > now
        ]
        pending = [a for a in new if a.status == Authorization.Status.PENDING_CONSENT]
        parts = [str(BIND_SIGNED)]
        if active_now:
            parts.append(str(BIND_ACTIVE_NOW) % {"names": NAME_SEPARATOR.join(active_now)})
        if active_later:
            parts.append(str(BIND_ACTIVE_LATER) % {"names": NAME_SEPARATOR.join(active_later)})
        if pending:
            deadline = min(a.consent_deadline for a in pending)
            parts.append(
                str(BIND_PENDING)
                % {
                    "names": NAME_SEPARATOR.join(a.member.name for a in pending),
                    "deadline": letters.format_instant(deadline),
                }
            )
        return "".join(parts)


# ---------------------------------------------------------------------------------------------
# a signed letter, one authorization


class LetterDetailView(LoginRequiredMixin, TemplateView):
    template_name = "family/letter_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        letter = selectors.letter_get_for_holder(
            user=self.request.user, public_id=self.kwargs["public_id"]
        )
        context["letter"] = letter
        context["signature_image"] = services.signature_image_shown(letter.signature_image)
        return context


class AuthorizationDetailView(LoginRequiredMixin, TemplateView):
    template_name = "family/authorization_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        item = selectors.authorization_get_for_holder(
            user=self.request.user, public_id=self.kwargs["public_id"]
        )
        context.update(
            {
                "authorization": item,
                "state": selectors.state_label(item, timezone.now()),
                "letters": selectors.letters_for_authorization(authorization=item),
            }
        )
        return context


# ---------------------------------------------------------------------------------------------
# window change: 1 new window -> 2 read the new letter and sign


class WindowChangeView(LoginRequiredMixin, View):
    template_form = "family/window_change.html"
    template_confirm = "family/window_change_confirm.html"

    def _authorization(self) -> Authorization:
        return selectors.authorization_get_for_holder(
            user=self.request.user, public_id=self.kwargs["public_id"]
        )

    def get(self, request, public_id):
        authorization = self._authorization()
        form = WindowForm(initial={"window_end": authorization.window_end})
        return self._render_form(authorization, form)

    def post(self, request, public_id):
        authorization = self._authorization()
        if not authorization.is_live:
            return self._render_form(authorization, WindowForm())  # the page says it has ended
        if request.POST.get("step") == "sign":
            return self._post_sign(authorization)
        form = WindowForm(request.POST)
        if not form.is_valid():
            return self._render_form(authorization, form)
        try:  # R6 before the holder reads and signs the new letter
            selectors.window_change_check(
                authorization=authorization,
                window_start=form.cleaned_data["window_start"],
                window_end=form.cleaned_data["window_end"],
            )
        except ValidationError as exc:
            place_error(form, exc, WINDOW_FIELD_ERRORS)
            return self._render_form(authorization, form)
        sign_form = WindowSignForm(
            initial={
                "window_start": form.cleaned_data["window_start"],
                "window_end": form.cleaned_data["window_end"],
            }
        )
        return self._render_confirm(
            authorization,
            sign_form,
            form.cleaned_data["window_start"],
            form.cleaned_data["window_end"],
        )

    def _post_sign(self, authorization: Authorization):
        form = WindowSignForm(self.request.POST)
        if not form.is_valid() and ("window_start" in form.errors or "window_end" in form.errors):
            # Only a hand-edited page gets here: start again from the window form.
            return self._render_form(authorization, WindowForm())
        start = form.cleaned_data.get("window_start")
        end = form.cleaned_data.get("window_end")
        if form.is_valid():
            try:
                letter = services.authorization_window_change(
                    authorization=authorization,
                    window_start=start,
                    window_end=end,
                    signature=form.signature(),
                    actor=self.request.user,
                    channel=ONLINE,
                    expected_hash=form.cleaned_data["letter_hash"],
                )
            except ValidationError as exc:
                if exc.code in WINDOW_FIELD_ERRORS:
                    # A window the rules refuse: back to the window form, error at its field.
                    window_form = WindowForm(
                        {"window_start": local_input(start), "window_end": local_input(end)}
                    )
                    window_form.is_valid()
                    place_error(window_form, exc, WINDOW_FIELD_ERRORS)
                    return self._render_form(authorization, window_form)
                place_error(form, exc, SIGN_FIELD_ERRORS)
            else:
                messages.success(
                    self.request, str(WINDOW_CHANGED) % {"name": authorization.member.name}
                )
                return redirect("family:letter-detail", public_id=letter.public_id)
        return self._render_confirm(authorization, form, start, end)

    def _render_form(self, authorization: Authorization, form):
        context = {
            "authorization": authorization,
            "state": selectors.state_label(authorization, timezone.now()),
            "form": form,
        }
        return render(self.request, self.template_form, context)

    def _render_confirm(self, authorization, form, start, end):
        version, text = selectors.letter_preview_for_window_change(
            authorization=authorization, window_start=start, window_end=end, channel=ONLINE
        )
        content_hash = CommitmentLetter.hash_text(text)
        if form.is_bound:
            form.data = form.data.copy()
            form.data["letter_hash"] = content_hash
        else:
            form.initial["letter_hash"] = content_hash
        context = {
            "authorization": authorization,
            "new_start": start,
            "new_end": end,
            "letter_version": version,
            "letter_text": text,
            "form": form,
        }
        return render(self.request, self.template_confirm, context)


# ---------------------------------------------------------------------------------------------
# payment cap (R21)


class CapSetView(LoginRequiredMixin, FormView):
    template_name = "family/cap_set.html"
    form_class = CapForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.authorization = selectors.authorization_get_for_holder(
                user=request.user, public_id=kwargs["public_id"]
            )
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        return {"cap": self.authorization.payment_cap}

    def get_context_data(self, **kwargs):
        return super().get_context_data(authorization=self.authorization, **kwargs)

    def form_valid(self, form):
        cap = form.cleaned_data["cap"]
        try:
            services.authorization_cap_set(
                authorization=self.authorization,
                cap=cap,
                actor=self.request.user,
                channel=ONLINE,
            )
        except ValidationError as exc:
            place_error(form, exc, CAP_FIELD_ERRORS)
            return self.form_invalid(form)
        name = self.authorization.member.name
        if cap is None:
            messages.success(self.request, str(CAP_CLEARED) % {"name": name})
        else:
            messages.success(self.request, str(CAP_SET) % {"name": name, "cap": f"{cap:.2f}"})
        return redirect("family:authorization-detail", public_id=self.authorization.public_id)
