from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from . import services
from .models import (
    AuditEntry,
    InsuredPerson,
    Notification,
    RegionPolicy,
    ResidentPremium,
    User,
)


def adopt_saved(obj, saved) -> None:
    """A `save_model` that created the row through a service: the admin goes on with `obj`
    (history entry, redirect), so make `obj` the saved row."""
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


class ReadOnlyAdminMixin:
    """View permission only: rows of this kind change through their app's services (rules and
    audit), never through an admin form. Used by the family and payments admins too."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedAdmin(admin.ModelAdmin):
    """Every save and delete made in the admin goes through a service that audits it (R20)."""

    def save_model(self, request, obj, form, change):
        services.admin_object_save(obj=obj, actor=request.user, change=change)

    def delete_model(self, request, obj):
        services.admin_object_delete(obj=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.admin_object_delete(obj=obj, actor=request.user)


class ResidentPremiumInline(admin.TabularInline):
    model = ResidentPremium
    extra = 0


@admin.register(RegionPolicy)
class RegionPolicyAdmin(AuditedAdmin):
    list_display = [
        "code",
        "name",
        "province_name",
        "member_scope",
        "member_in_several_relationships",
        "consent_age",
        "counter_agreement",
    ]
    list_filter = ["member_scope", "member_in_several_relationships", "counter_agreement"]
    search_fields = ["code", "name"]
    readonly_fields = ["province_code", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["code", "name", "province_code"]}),
        (
            _("绑定规则"),
            {
                "fields": [
                    "member_scope",
                    "member_in_several_relationships",
                    "consent_age",
                    "consent_days",
                    "max_window_days",
                    "counter_agreement",
                    "spouse_confirmation",
                ]
            },
        ),
        (
            _("共济使用限制（R21）"),
            {
                "fields": [
                    "max_members_at_once",
                    "max_members_lifetime",
                    "retained_floor",
                    "several_holders_per_settlement",
                    "fallback_order",
                ]
            },
        ),
        (_("记录"), {"fields": ["created_at", "updated_at"]}),
    ]

    def save_formset(self, request, form, formset, change):
        # Inline premiums go through the same audited service as every other admin save.
        for obj in formset.save(commit=False):
            services.admin_object_save(obj=obj, actor=request.user, change=bool(obj.pk))
        for obj in formset.deleted_objects:
            services.admin_object_delete(obj=obj, actor=request.user)

    @admin.display(description=_("省份"))
    def province_name(self, obj):
        return obj.province_name


@admin.register(ResidentPremium)
class ResidentPremiumAdmin(AuditedAdmin):
    list_display = [
        "region",
        "year",
        "amount",
        "collection_start",
        "collection_end",
        "benefit_start",
        "benefit_end",
        "waiting_months",
    ]
    list_filter = ["year", "region"]
    list_select_related = ["region"]


@admin.register(InsuredPerson)
class InsuredPersonAdmin(AuditedAdmin):
    list_display = [
        "name",
        "masked_id",
        "sex",
        "region",
        "scheme",
        "status",
        "activated",
    ]
    list_filter = ["region", "scheme", "status"]
    list_select_related = ["region"]
    search_fields = ["=id_number", "name"]  # exact identity number, or part of a name
    readonly_fields = ["public_id", "birth_date", "sex", "user", "created_at", "updated_at"]
    fields = [
        "name",
        "id_number",
        "birth_date",
        "sex",
        "phone",
        "region",
        "scheme",
        "status",
        "user",
        "public_id",
        "created_at",
        "updated_at",
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # records are never deleted; a person's status ends instead

    @admin.display(description=_("身份证号码"), ordering="id_number")
    def masked_id(self, obj):
        return obj.masked_id_number

    @admin.display(description=_("已激活"), boolean=True)
    def activated(self, obj):
        return obj.user_id is not None


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        (_("经办范围"), {"fields": ["regions"]}),
    ]
    filter_horizontal = [*DjangoUserAdmin.filter_horizontal, "regions"]
    list_display = ["username", "first_name", "is_staff", "is_active", "last_login"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only (a PostgreSQL trigger refuses UPDATE/DELETE)."""

    list_display = ["at", "action", "channel", "actor", "object_type", "object_id", "person"]
    list_filter = ["channel", "action"]
    list_select_related = ["actor", "person"]
    search_fields = ["action", "object_id", "=person__id_number", "actor__username"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """站内信, read-only: staff look here for mail stuck in `sending` (a worker died while
    sending; it is never mailed twice) or `failed`. The words are not stored (see
    `accounts.notices`); the recipient is shown masked (name and identity number), as mail
    shows them; search by the full name still finds them."""

    list_display = ["recipient_display", "kind", "created_at", "read_at", "email_status"]
    list_filter = ["kind", "email_status"]
    list_select_related = ["recipient"]
    search_fields = ["recipient__name"]
    date_hierarchy = "created_at"
    fields = [
        "public_id",
        "recipient_display",
        "kind",
        "key",
        "params",
        "link",
        "created_at",
        "read_at",
        "email_status",
        "emailed_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("收件人"), ordering="recipient__name")
    def recipient_display(self, obj):
        return f"{obj.recipient.masked_name}（{obj.recipient.masked_id_number}）"
