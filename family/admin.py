"""Staff pages for family mutual aid in /admin/.

Relationships, authorizations and commitment letters are read-only here: every change of them goes
through `family.services`, where the rules (R1–R22) and the audit trail (R20) live. Guardianships
are added here through `guardianship_register`. The insured-person admin of `accounts` is replaced
by a subclass whose status changes go through `person_status_change`, so that a transfer out or a
termination ends the person's relationships and authorizations at once (R14): `accounts` cannot
import `family`, so the wiring lives in this, the higher app.

Lists show masked identity numbers only; search takes an exact full number (`=...id_number`) or a
part of a name, as the accounts admin does.

Region scope (issue 6): a staff user sees the relationships, authorizations and letters of holders
of their regions and the guardianships of wards of their regions (`RegionScopedAdminMixin`); the
person choices of the guardianship form are the persons of their regions too.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

# Imported (not only autodiscovered) so that accounts' registrations exist before the one below
# replaces the insured-person admin, whatever the import order.
from accounts.admin import InsuredPersonAdmin as AccountsInsuredPersonAdmin
from accounts.admin import ReadOnlyAdminMixin, RegionScopedAdminMixin, adopt_saved
from accounts.models import AuditEntry, InsuredPerson

from . import errors, services
from .models import Authorization, CommitmentLetter, CounterBinding, Guardianship, Relationship

# R14
STATUS_REASON_REQUIRED = _("变更参保状态须填写变更原因")


def _person_columns(prefix: str, label_name, label_id):
    """Two list columns for the person at `prefix` (`holder`, `member`, ...): name and masked
    identity number; never the full number."""

    @admin.display(description=label_name, ordering=f"{prefix}__name")
    def name(self, obj):
        return getattr(obj, prefix).name

    @admin.display(description=label_id)
    def masked_id(self, obj):
        return getattr(obj, prefix).masked_id_number

    return name, masked_id


# ---------------------------------------------------------------------------------------------
# relationships and authorizations (read-only)


class AuthorizationInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Authorization
    fk_name = "relationship"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = [
        "member",
        "relation",
        "status",
        "window_start",
        "window_end",
        "deduction_position",
        "ended_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member")


class CommitmentLetterInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CommitmentLetter
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["verification_code", "kind", "purpose", "signed_at", "channel", "signed_name"]
    readonly_fields = fields


@admin.register(Relationship)
class RelationshipAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    region_field = "holder__region"
    holder_name, holder_masked_id = _person_columns(
        "holder", _("主账户人"), _("主账户人身份证号码")
    )
    list_display = [
        "holder_name",
        "holder_masked_id",
        "holder_region",
        "status",
        "channel",
        "live_members",
        "created_at",
        "ended_at",
        "end_reason",
    ]
    list_filter = ["status", "channel", "end_reason", "holder__region"]
    list_select_related = ["holder__region"]
    search_fields = [
        "holder__name",
        "=holder__id_number",
        "authorizations__member__name",
        "=authorizations__member__id_number",
    ]
    date_hierarchy = "created_at"
    fields = ["public_id", "holder", "status", "channel", "created_at", "ended_at", "end_reason"]
    readonly_fields = fields
    inlines = [AuthorizationInline, CommitmentLetterInline]

    def get_queryset(self, request):
        # A correlated subquery, not Count("authorizations"): searching by a member's name or
        # number joins the authorizations again and the changelist only de-duplicates rows with
        # DISTINCT, which would multiply a joined count.
        live = (
            Authorization.objects.live()
            .filter(relationship=OuterRef("pk"))
            .order_by()
            .values("relationship")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(live_member_count=Coalesce(Subquery(live), 0))

    @admin.display(description=_("统筹区"), ordering="holder__region__code")
    def holder_region(self, obj):
        return obj.holder.region

    @admin.display(description=_("有效成员数"), ordering="live_member_count")
    def live_members(self, obj):
        return obj.live_member_count


@admin.register(Authorization)
class AuthorizationAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    region_field = "holder__region"
    holder_name, holder_masked_id = _person_columns(
        "holder", _("主账户人"), _("主账户人身份证号码")
    )
    member_name, member_masked_id = _person_columns("member", _("共济成员"), _("成员身份证号码"))
    list_display = [
        "holder_name",
        "holder_masked_id",
        "member_name",
        "member_masked_id",
        "relation",
        "status",
        "window_start",
        "window_end",
        "deduction_position",
        "created_at",
    ]
    list_filter = ["status", "relation", "consent_needed", "holder__region"]
    list_select_related = ["holder", "member"]
    search_fields = ["holder__name", "member__name", "=holder__id_number", "=member__id_number"]
    date_hierarchy = "created_at"
    fields = [
        "public_id",
        "relationship",
        "holder",
        "member",
        "relation",
        "status",
        "window_start",
        "window_end",
        "exclusive",
        "deduction_position",
        "payment_cap",
        "consent_needed",
        "consent_deadline",
        "answered_at",
        "answered_by",
        "created_at",
        "ended_at",
        "end_note",
        "letter_codes",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        # For the change page: the people and the relationship in one query.
        return (
            super()
            .get_queryset(request)
            .select_related("holder", "member", "relationship__holder", "answered_by")
        )

    @admin.display(description=_("承诺书核验码"))
    def letter_codes(self, obj):
        return ", ".join(
            obj.letters.order_by("signed_at").values_list("verification_code", flat=True)
        )


# ---------------------------------------------------------------------------------------------
# commitment letters (R7: immutable; read-only)


@admin.register(CounterBinding)
class CounterBindingAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Counter bindings (issue 6, R18), read-only: they are handled in the staff pages
    (/staff/bindings/...), where every step goes through `family.services.counter`. The scan is
    downloaded there, never through a media URL."""

    region_field = "region"
    holder_name, holder_masked_id = _person_columns(
        "holder", _("主账户人"), _("主账户人身份证号码")
    )
    list_display = [
        "created_at",
        "holder_name",
        "holder_masked_id",
        "region",
        "status",
        "needs_review",
        "created_by",
        "reviewed_by",
        "staff_page",
    ]
    list_filter = ["status", "needs_review", "region"]
    list_select_related = ["holder", "region", "created_by", "reviewed_by"]
    search_fields = ["holder__name", "=holder__id_number"]
    date_hierarchy = "created_at"
    fields = [
        "public_id",
        "holder",
        "region",
        "status",
        "created_by",
        "created_at",
        "documents_seen",
        "letter_kind",
        "letter_version",
        "letter_hash",
        "letter_printed_at",
        "scan_sha256",
        "scan_content_type",
        "scan_size",
        "scan_uploaded_at",
        "submitted_at",
        "needs_review",
        "review_reasons",
        "reviewed_by",
        "reviewed_at",
        "review_note",
        "letter",
        "closed_at",
        "staff_page",
    ]

    @admin.display(description=_("经办页面"))
    def staff_page(self, obj):
        url = reverse("staff:binding", args=[obj.public_id])
        return format_html('<a href="{}">{}</a>', url, _("打开"))


@admin.register(CommitmentLetter)
class CommitmentLetterAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    region_field = "holder__region"

    class Media:
        css = {"all": ["css/admin.css"]}

    holder_name, holder_masked_id = _person_columns(
        "holder", _("主账户人"), _("主账户人身份证号码")
    )
    list_display = [
        "verification_code",
        "kind",
        "purpose",
        "holder_name",
        "holder_masked_id",
        "channel",
        "signed_at",
        "template_version",
        "intact",
    ]
    list_filter = ["kind", "purpose", "channel", "holder__region"]
    list_select_related = ["holder"]
    search_fields = ["=verification_code", "holder__name", "=holder__id_number"]
    date_hierarchy = "signed_at"
    fields = [
        "verification_code",
        "public_id",
        "kind",
        "purpose",
        "template_version",
        "holder",
        "relationship",
        "authorization_list",
        "signed_at",
        "channel",
        "signed_name",
        "signature",
        "signed_by",
        "text_display",
        "content_hash",
        "intact",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("holder", "relationship", "signed_by")

    @admin.display(description=_("承诺书全文"))
    def text_display(self, obj):
        return format_html(
            '<pre class="letter-text">{}</pre>',
            obj.text,
        )

    @admin.display(description=_("内容未被改动"), boolean=True)
    def intact(self, obj):
        return obj.text_intact

    @admin.display(description=_("手写签名"))
    def signature(self, obj):
        image = services.signature_image_shown(obj.signature_image)
        if not image:
            return "—"
        return format_html(
            '<img src="{}" alt="{}" class="signature-image">',
            image,
            _("手写签名"),
        )

    @admin.display(description=_("涉及的共济授权"))
    def authorization_list(self, obj):
        rows = obj.authorizations.select_related("member").order_by("pk")
        return format_html_join(
            "",
            "<div>{}（{}，{}）：{}</div>",
            (
                (
                    a.member.name,
                    a.get_relation_display(),
                    a.member.masked_id_number,
                    a.get_status_display(),
                )
                for a in rows
            ),
        )


# ---------------------------------------------------------------------------------------------
# guardianships (R22): added through the service; never changed or deleted here


class GuardianshipAdminForm(forms.ModelForm):
    class Meta:
        model = Guardianship
        fields = ["guardian", "ward", "basis", "document", "valid_from", "valid_until"]

    def clean(self):
        cleaned = super().clean()
        guardian, ward = cleaned.get("guardian"), cleaned.get("ward")
        if guardian is not None and ward is not None and guardian.pk == ward.pk:
            # Next to the field, instead of the database constraint's generic message.
            self.add_error("ward", errors.GUARDIAN_SELF)
        return cleaned


@admin.register(Guardianship)
class GuardianshipAdmin(RegionScopedAdminMixin, admin.ModelAdmin):
    """Added here through `guardianship_register` (audited, channel admin). A wrong guardianship
    is never edited or deleted here, so that what a guardian did while it stood stays explained:
    staff end it later through a service (not written yet: a `guardianship_end` that sets
    `valid_until` and audits it)."""

    form = GuardianshipAdminForm
    region_field = "ward__region"
    guardian_name, guardian_masked_id = _person_columns(
        "guardian", _("监护人"), _("监护人身份证号码")
    )
    ward_name, ward_masked_id = _person_columns("ward", _("被监护人"), _("被监护人身份证号码"))
    list_display = [
        "guardian_name",
        "guardian_masked_id",
        "ward_name",
        "ward_masked_id",
        "ward_region",
        "basis",
        "valid_from",
        "valid_until",
        "created_at",
    ]
    list_filter = ["basis", "ward__region"]
    list_select_related = ["guardian", "ward__region"]
    search_fields = ["guardian__name", "ward__name", "=guardian__id_number", "=ward__id_number"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["guardian", "ward"]  # search by exact number or name; shows masked
    fields = ["guardian", "ward", "basis", "document", "valid_from", "valid_until"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.fields
        return ["public_id", *self.fields, "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:  # unreachable while has_change_permission is False; kept as a guard
            raise PermissionDenied
        saved = services.guardianship_register(
            guardian=obj.guardian,
            ward=obj.ward,
            basis=obj.basis,
            document=obj.document,
            valid_from=obj.valid_from,
            valid_until=obj.valid_until,
            actor=request.user,
            channel=AuditEntry.Channel.ADMIN,
        )
        adopt_saved(obj, saved)

    @admin.display(description=_("统筹区"), ordering="ward__region__code")
    def ward_region(self, obj):
        return obj.ward.region


# ---------------------------------------------------------------------------------------------
# insured persons: status changes through person_status_change (R14)


class InsuredPersonStatusForm(forms.ModelForm):
    """The accounts person form plus a reason, required when the status changes (R14, R20)."""

    status_reason = forms.CharField(
        label=_("变更原因"),
        required=False,
        max_length=200,
        help_text=_(
            # R14
            "变更参保状态时必填。转出或终止将立即终止其家庭共济关系和共济授权，原因记入审计记录。"
        ),
    )

    def clean(self):
        cleaned = super().clean()
        # R14: a status change in the admin needs a reason, kept in the audit entry (R20).
        if self.instance.pk and "status" in self.changed_data and not cleaned.get("status_reason"):
            self.add_error("status_reason", STATUS_REASON_REQUIRED)
        return cleaned


admin.site.unregister(InsuredPerson)


@admin.register(InsuredPerson)
class InsuredPersonAdmin(AccountsInsuredPersonAdmin):
    form = InsuredPersonStatusForm

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None and self.has_change_permission(request, obj):
            fields.insert(fields.index("status") + 1, "status_reason")
        return fields

    def save_model(self, request, obj, form, change):
        if not (change and "status" in form.changed_data):
            super().save_model(request, obj, form, change)
            return
        new_status = obj.status
        obj.status = form.initial["status"]
        if set(form.changed_data) - {"status", "status_reason"}:
            # The other fields first, through the audited save, with the status as it was.
            super().save_model(request, obj, form, change)
        # The admin view wraps this in one transaction: both writes stand or fall together.
        person = services.person_status_change(
            person=obj,
            status=new_status,
            reason=form.cleaned_data["status_reason"],
            actor=request.user,
            channel=AuditEntry.Channel.ADMIN,
        )
        obj.status, obj.updated_at = person.status, person.updated_at
