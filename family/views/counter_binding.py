"""Staff pages of the counter binding (issue 6, R18): start, the binding's page (members,
checklist, print, upload, submit, cancel), the printable letter, the scan download, the
supervisor's review list and review.

Thin views: forms parse, `family.services` (counter.py) change state and own every rule, the
selectors of `family.selectors` scope each binding to the user's regions (404 outside).
A refused step re-shows the page with the message next to the field it concerns, or above."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.generic import TemplateView

from accounts.middleware import control_characters_refusal, reads_its_own_body
from accounts.selectors import person_get_for_staff, uuid_or_none
from accounts.staff import StaffRequiredMixin, page_context
from family import errors, selectors, services
from family.forms import place_error
from family.forms.counter import (
    ACTION_FIELD,
    CounterDocumentsForm,
    CounterMemberForm,
    ReviewForm,
    ScanUploadForm,
)
from family.models import CounterBinding

ADD = "family.add_counterbinding"
VIEW = "family.view_counterbinding"
REVIEW = "family.review_counterbinding"

STARTED = _("已开始为%(name)s办理窗口绑定。")
MEMBER_ADDED = _("已添加%(name)s。")
MEMBER_REMOVED = _("已移除该成员。")
DOCUMENTS_SAVED = _("已记录查验的材料。")
LETTER_PRINTED = _("承诺书已生成，请打印后由主账户人签字。")
SCAN_SAVED = _("签字件扫描件已上传。")
SUBMITTED_REVIEW = _("已提交审核，审核通过后绑定生效。")
SUBMITTED_DONE = _("绑定已生效。")
CANCELLED = _("该柜台绑定已作废。")
APPROVED = _("已审核通过，绑定已生效。")
REJECTED = _("已驳回。")
UNKNOWN_ACTION = _("无法识别的操作，请重试")

# Service errors (by code) that belong next to one field of the member form.
MEMBER_FIELD_ERRORS = {
    "window_end_not_after_start": "window_end",
    "window_end_past": "window_end",
    "window_too_long": "window_end",
    "window_end_required": "window_end",
    "rel_invalid_relation": "relation",
}


class ScanSizeLimitHandler(FileUploadHandler):
    """Stops reading a file past the scan limit, so an oversized upload is neither kept in memory
    nor written to a temporary file; the view then says it is too large."""

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None


# ---------------------------------------------------------------------------------------------
# start


class BindingStartView(StaffRequiredMixin, View):
    """GET: the holder and what is already bound, with a start button (or the open binding).
    POST: open a counter binding (or find the open one) and go to it."""

    permission_required = (VIEW, ADD)
    template_name = "staff/binding_start.html"

    def _holder(self):
        return person_get_for_staff(user=self.request.user, public_id=self.kwargs["public_id"])

    def _render(self, holder, *, error=None):
        problem = error
        if problem is None:
            try:
                selectors.bind_check(holder=holder, members=[])
            except ValidationError as exc:
                problem = exc
        context = {
            "holder": holder,
            "open_binding": selectors.counter_binding_open_for_holder(holder=holder),
            "live": selectors.holder_live_authorizations(holder=holder),
            "problem": problem,
            "staff_section": "persons",
        }
        return render(self.request, self.template_name, context)

    def get(self, request, public_id):
        return self._render(self._holder())

    def post(self, request, public_id):
        holder = self._holder()
        try:
            binding = services.counter_binding_start(holder=holder, actor=request.user)
        except ValidationError as exc:
            return self._render(holder, error=exc)
        messages.success(request, STARTED % {"name": holder.name})
        return redirect("staff:binding", public_id=binding.public_id)


# ---------------------------------------------------------------------------------------------
# the binding's page


class BindingDetailView(StaffRequiredMixin, View):
    permission_required = (VIEW,)
    template_name = "staff/binding_detail.html"

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST" and not request.user.has_perm(ADD):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def _binding(self) -> CounterBinding:
        return selectors.counter_binding_get_for_staff(
            user=self.request.user, public_id=self.kwargs["public_id"]
        )

    def get(self, request, public_id):
        return self.render_page(request, self._binding())

    @staticmethod
    def render_page(request, binding: CounterBinding, **forms):
        members = list(binding.members.all())
        editable = binding.is_editable and request.user.has_perm(ADD)
        context = {
            "binding": binding,
            "holder": binding.holder,
            "members": members,
            "live": selectors.holder_live_authorizations(holder=binding.holder),
            "editable": editable,
            "member_form": forms.get("member_form") or CounterMemberForm(),
            "documents_form": forms.get("documents_form")
            or CounterDocumentsForm(binding=binding, members=members),
            "documents_complete": bool(members)
            and not services.documents_problems(binding, members, binding.documents_seen or {}),
            "scan_form": forms.get("scan_form") or ScanUploadForm(),
            "action_errors": forms.get("action_errors") or [],
            "review_preview": services.review_reasons_for(binding, members) if members else [],
            "staff_section": "persons",
        }
        return render(request, "staff/binding_detail.html", context)

    def post(self, request, public_id):
        binding = self._binding()
        action = request.POST.get(ACTION_FIELD, "")
        handler = {
            "member-add": self._member_add,
            "member-remove": self._member_remove,
            "documents": self._documents,
            "print": self._print,
            "submit": self._submit,
            "cancel": self._cancel,
        }.get(action)
        if handler is None:
            return self.render_page(request, binding, action_errors=[UNKNOWN_ACTION])
        return handler(binding)

    def _back(self, binding, message):
        messages.success(self.request, message)
        return redirect("staff:binding", public_id=binding.public_id)

    def _member_add(self, binding):
        form = CounterMemberForm(self.request.POST)
        if form.is_valid():
            data = form.cleaned_data
            person = selectors.member_person_find(id_number=data["id_number"], name=data["name"])
            if person is None:
                form.add_error(None, errors.MEMBER_NOT_FOUND)
            else:
                try:
                    services.counter_binding_member_add(
                        binding=binding,
                        person=person,
                        relation=data["relation"],
                        window_end=data.get("window_end"),
                        actor=self.request.user,
                    )
                except ValidationError as exc:
                    place_error(form, exc, MEMBER_FIELD_ERRORS)
                else:
                    return self._back(binding, MEMBER_ADDED % {"name": person.name})
        return self.render_page(self.request, self._binding(), member_form=form)

    def _member_remove(self, binding):
        try:
            services.counter_binding_member_remove(
                binding=binding,
                member_public_id=uuid_or_none(self.request.POST.get("member")),
                actor=self.request.user,
            )
        except ValidationError as exc:
            return self.render_page(self.request, binding, action_errors=exc.messages)
        return self._back(binding, MEMBER_REMOVED)

    def _documents(self, binding):
        members = list(binding.members.all())
        form = CounterDocumentsForm(self.request.POST, binding=binding, members=members)
        if form.is_valid():
            try:
                services.counter_binding_documents_set(
                    binding=binding, documents=form.documents(), actor=self.request.user
                )
            except ValidationError as exc:
                for error in exc.error_list:
                    params = error.params if isinstance(error.params, dict) else None
                    form.add_error(form.field_for_error(error.code or "", params), error)
            else:
                return self._back(binding, DOCUMENTS_SAVED)
        return self.render_page(self.request, binding, documents_form=form)

    def _print(self, binding):
        try:
            binding = services.counter_binding_letter_print(
                binding=binding, actor=self.request.user
            )
        except ValidationError as exc:
            return self.render_page(self.request, binding, action_errors=exc.messages)
        messages.success(self.request, LETTER_PRINTED)
        return redirect("staff:binding-letter", public_id=binding.public_id)

    def _submit(self, binding):
        try:
            binding = services.counter_binding_submit(binding=binding, actor=self.request.user)
        except ValidationError as exc:
            return self.render_page(self.request, self._binding(), action_errors=exc.messages)
        done = binding.status == CounterBinding.Status.DONE
        return self._back(binding, SUBMITTED_DONE if done else SUBMITTED_REVIEW)

    def _cancel(self, binding):
        try:
            services.counter_binding_cancel(binding=binding, actor=self.request.user)
        except ValidationError as exc:
            return self.render_page(self.request, binding, action_errors=exc.messages)
        return self._back(binding, CANCELLED)


@method_decorator(csrf_exempt, name="dispatch")  # CSRF is checked in post(), after the handler
@method_decorator(reads_its_own_body, name="dispatch")  # control characters too
class BindingUploadView(StaffRequiredMixin, View):
    """POST the scan. The size-limit upload handler must be in place before the body is read,
    which the CSRF check does, hence the documented exempt-then-protect pattern."""

    permission_required = (VIEW, ADD)

    def post(self, request, public_id):
        handler = ScanSizeLimitHandler(request, limit=services.scan_limit_bytes())
        request.upload_handlers.insert(0, handler)
        return self._post(request, public_id, handler)

    @method_decorator(csrf_protect)
    def _post(self, request, public_id, handler):
        refused = control_characters_refusal(request)
        if refused is not None:
            return refused
        binding = selectors.counter_binding_get_for_staff(user=request.user, public_id=public_id)
        form = ScanUploadForm(request.POST, request.FILES)
        if handler.exceeded:
            form = ScanUploadForm(request.POST)
            form.is_valid()
            form.errors.clear()
            form.add_error(
                "scan",
                ValidationError(
                    services.SCAN_TOO_LARGE,
                    code="scan_too_large",
                    params={"mb": services.scan_limit_mb()},
                ),
            )
        elif form.is_valid():
            try:
                services.counter_binding_scan_attach(
                    binding=binding, upload=form.cleaned_data["scan"], actor=request.user
                )
            except ValidationError as exc:
                form.add_error(None if exc.code in services.STATE_CODES else "scan", exc)
            else:
                messages.success(request, SCAN_SAVED)
                return redirect("staff:binding", public_id=binding.public_id)
        return BindingDetailView.render_page(request, binding, scan_form=form)


# ---------------------------------------------------------------------------------------------
# letter and scan


class BindingLetterView(StaffRequiredMixin, TemplateView):
    """The frozen letter for printing on A4, with signature lines for the wet signature."""

    permission_required = (VIEW,)
    template_name = "staff/binding_letter.html"

    def get(self, request, *args, **kwargs):
        binding = selectors.counter_binding_get_for_staff(
            user=request.user, public_id=kwargs["public_id"]
        )
        if not binding.letter_text:
            messages.info(request, services.LETTER_NOT_PRINTED)
            return redirect("staff:binding", public_id=binding.public_id)
        context = self.get_context_data(
            binding=binding,
            holder=binding.holder,
            members=list(binding.members.all()),
            staff_section="persons",
        )
        return self.render_to_response(context)


class BindingScanView(StaffRequiredMixin, View):
    """Download of the kept scan: scoped, as an attachment, never sniffed or cached."""

    permission_required = (VIEW,)

    def get(self, request, public_id):
        binding = selectors.counter_binding_get_for_staff(user=request.user, public_id=public_id)
        if not binding.scan:
            raise Http404
        extension = CounterBinding.SCAN_EXTENSIONS.get(binding.scan_content_type, "")
        try:
            handle = binding.scan.open("rb")
        except FileNotFoundError as exc:
            raise Http404 from exc
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=f"counter-binding-{binding.public_id}{extension}",
            content_type=binding.scan_content_type or "application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


# ---------------------------------------------------------------------------------------------
# supervisor review


class ReviewListView(StaffRequiredMixin, TemplateView):
    permission_required = (VIEW, REVIEW)
    template_name = "staff/review_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(staff_section="reviews", **kwargs)
        found = selectors.counter_bindings_pending_review(user=self.request.user)
        page = Paginator(found, 20).get_page(self.request.GET.get("page"))
        context.update(bindings=page, **page_context(page))
        return context


class BindingReviewView(StaffRequiredMixin, View):
    permission_required = (VIEW, REVIEW)
    template_name = "staff/binding_review.html"

    def _binding(self):
        return selectors.counter_binding_get_for_staff(
            user=self.request.user, public_id=self.kwargs["public_id"]
        )

    def _render(self, binding, form):
        context = {
            "binding": binding,
            "holder": binding.holder,
            "members": list(binding.members.all()),
            "live": selectors.holder_live_authorizations(holder=binding.holder),
            "form": form,
            "own": binding.created_by_id == self.request.user.pk,
            "staff_section": "reviews",
        }
        return render(self.request, self.template_name, context)

    def get(self, request, public_id):
        return self._render(self._binding(), ReviewForm())

    def post(self, request, public_id):
        binding = self._binding()
        form = ReviewForm(request.POST)
        if form.is_valid():
            decision, note = form.cleaned_data["decision"], form.cleaned_data["note"]
            try:
                if decision == ReviewForm.APPROVE:
                    services.counter_binding_approve(binding=binding, actor=request.user, note=note)
                else:
                    services.counter_binding_reject(
                        binding=binding, actor=request.user, reason=note
                    )
            except ValidationError as exc:
                form.add_error("note" if exc.code == "reject_reason_required" else None, exc)
            else:
                messages.success(request, APPROVED if decision == ReviewForm.APPROVE else REJECTED)
                return redirect(reverse("staff:binding", kwargs={"public_id": binding.public_id}))
        return self._render(self._binding(), form)
