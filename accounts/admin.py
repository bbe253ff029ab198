"""Staff pages for people, policies and the audit trail in /admin/.

Region scope (issue 6): every admin of rows that belong to a region mixes in
`RegionScopedAdminMixin`, so that a staff user sees, searches, opens and picks only the rows of
the regions they serve (`User.regions`), through `accounts.selectors.in_staff_scope` as the staff
pages do; a superuser sees every region. The family and payments admins use the same mixin.
"""

from __future__ import annotations

from celery.schedules import ParseException
from django import forms
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
    SolarSchedule,
)

from . import services
from .models import (
    AuditEntry,
    InsuredPerson,
    Notification,
    RegionPolicy,
    RelationProof,
    ResidentPremium,
    User,
)
from .selectors import in_staff_scope, staff_region_ids

STAFF_WITHOUT_REGION = _("非超级管理员的工作人员至少须有一个经办统筹区")


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


class RegionScopedAdminMixin:
    """Rows of the staff user's regions only (issue 6): the changelist, its search and filters,
    the change/delete/history pages (another region's row is "not found": the admin redirects
    to its index with a message) and the choices of every foreign key or many-to-many field
    whose model has a scoped admin too (persons, regions, institutions, accounts ...).

    `region_field` is the lookup to the row's RegionPolicy ("region", "holder__region", "pk"
    for RegionPolicy itself), or a tuple of lookups of which any may match (a settlement
    belongs to the institution's region and to the patient's). `unscoped_choice_fields` names
    the relations that legitimately point outside the user's regions (the care region of an
    out-of-region filing)."""

    region_field: str | tuple[str, ...] = "region"
    unscoped_choice_fields: tuple[str, ...] = ()

    def scope_queryset(self, queryset: QuerySet, request) -> QuerySet:
        fields = (self.region_field,) if isinstance(self.region_field, str) else self.region_field
        scoped = None
        for field in fields:
            narrowed = in_staff_scope(queryset, user=request.user, region_field=field)
            scoped = narrowed if scoped is None else scoped | narrowed
        return scoped

    def get_queryset(self, request):
        return self.scope_queryset(super().get_queryset(request), request)

    def _scope_choices(self, db_field, formfield, request):
        if formfield is None or db_field.name in self.unscoped_choice_fields:
            return formfield
        related_admin = self.admin_site._registry.get(db_field.remote_field.model)
        if isinstance(related_admin, RegionScopedAdminMixin) and hasattr(formfield, "queryset"):
            formfield.queryset = related_admin.scope_queryset(formfield.queryset, request)
        return formfield

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return self._scope_choices(db_field, formfield, request)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        return self._scope_choices(db_field, formfield, request)

    def get_list_filter(self, request):
        """A filter by a related row (region, institution ...) offers, for a scoped user, only
        the rows found among the ones they may see, not every region of the country."""
        filters = list(super().get_list_filter(request))
        if staff_region_ids(user=request.user) is None:
            return filters
        scoped = []
        for item in filters:
            if isinstance(item, str):
                try:
                    last = get_fields_from_path(self.model, item)[-1]
                except FieldDoesNotExist:
                    last = None
                if last is not None and last.is_relation:
                    item = (item, admin.RelatedOnlyFieldListFilter)
            scoped.append(item)
        return scoped


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


class RegionPolicyForm(forms.ModelForm):
    counter_relation_proofs = forms.MultipleChoiceField(
        label=_("窗口可接受的关系证明"),
        choices=RelationProof.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("窗口绑定时须查验其中至少一种"),  # R18
    )

    class Meta:
        model = RegionPolicy
        fields = ["counter_relation_proofs"]  # the admin adds the fields of its fieldsets


@admin.register(RegionPolicy)
class RegionPolicyAdmin(RegionScopedAdminMixin, AuditedAdmin):
    """Each region's policy; a staff user sees and edits only the regions they serve."""

    region_field = "pk"
    form = RegionPolicyForm
    list_display = [
        "code",
        "name",
        "province_name",
        "member_scope",
        "member_in_several_relationships",
        "consent_age",
        "counter_agreement",
        "wallet_enabled",
    ]
    list_filter = [
        "member_scope",
        "member_in_several_relationships",
        "counter_agreement",
        "wallet_enabled",
    ]
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
            _("共济使用限制"),  # R21
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
        (
            _("窗口办理"),
            {
                "fields": [
                    "counter_relation_proofs",
                    "review_member_threshold",
                    "review_grandparent_relations",
                ]
            },
        ),
        (_("医保钱包"), {"fields": ["wallet_enabled"]}),
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
class ResidentPremiumAdmin(RegionScopedAdminMixin, AuditedAdmin):
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
    search_fields = ["region__code", "region__name", "=year"]
    ordering = ["region__code", "-year"]


@admin.register(InsuredPerson)
class InsuredPersonAdmin(RegionScopedAdminMixin, AuditedAdmin):
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


class StaffUserChangeForm(UserChangeForm):
    def clean(self):
        cleaned = super().clean()
        staff, superuser = cleaned.get("is_staff"), cleaned.get("is_superuser")
        regions = cleaned.get("regions")
        if staff and not superuser and "regions" in self.fields and not regions:
            # Without a region a staff user would see nothing, or (were the scope ever loosened)
            # everything: neither is meant.
            self.add_error("regions", STAFF_WITHOUT_REGION)
        return cleaned


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Logins are managed by superusers only, whatever permissions a group is given: a staff
    user who could edit users could widen their own regions."""

    form = StaffUserChangeForm
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        (_("经办范围"), {"fields": ["regions"]}),
    ]
    filter_horizontal = [*DjangoUserAdmin.filter_horizontal, "regions"]
    list_display = ["username", "first_name", "is_staff", "is_active", "last_login"]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


@admin.register(AuditEntry)
class AuditEntryAdmin(RegionScopedAdminMixin, admin.ModelAdmin):
    """Read-only: the trail is append-only (a PostgreSQL trigger refuses UPDATE/DELETE). A staff
    user reads the entries of persons of their regions; entries without a person
    (institutions, reconciliation, exports, schedules) only a superuser reads."""

    region_field = "person__region"

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
class NotificationAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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
    region_field = "recipient__region"

    @admin.display(description=_("收件人"), ordering="recipient__name")
    def recipient_display(self, obj):
        return f"{obj.recipient.masked_name}（{obj.recipient.masked_id_number}）"


# ---------------------------------------------------------------------------------------------
# Beat schedules (issue 5's periodic tasks): django-celery-beat's admins, re-registered so that
# every save, delete and bulk switch is audited (R20, channel admin, before/after). Who may
# change them is the permissions' business (superusers and the 管理员 group).


class AuditedScheduleMixin(AuditedAdmin):
    """Saves and deletes through `services.admin_object_save` / `admin_object_delete`; the
    audit actions read "periodictask.change", "crontabschedule.delete" and so on."""


class AuditedPeriodicTaskAdmin(AuditedScheduleMixin, beat_admin.PeriodicTaskAdmin):
    def _set_enabled(self, request, queryset, enabled) -> int:
        # Row by row instead of the bulk UPDATE of the original actions, so that each switch
        # has its audit entry; saving a task also tells the beat that schedules changed.
        with transaction.atomic():
            # Locked without the changelist's joins to the schedules (nullable: no FOR UPDATE).
            tasks = list(
                PeriodicTask.objects.select_for_update(no_key=True)
                .filter(pk__in=queryset.values("pk"))
                .order_by("pk")
            )
            for task in tasks:
                task.enabled = (not task.enabled) if enabled is None else enabled
                if task.enabled is False:
                    task.last_run_at = None
                services.admin_object_save(obj=task, actor=request.user, change=True)
            PeriodicTasks.update_changed()
        return len(tasks)

    @admin.action(description=_("启用所选定时任务"), permissions=["change"])
    def enable_tasks(self, request, queryset):
        count = self._set_enabled(request, queryset, True)
        self.message_user(request, _g("已启用%(n)s个定时任务") % {"n": count})

    @admin.action(description=_("停用所选定时任务"), permissions=["change"])
    def disable_tasks(self, request, queryset):
        count = self._set_enabled(request, queryset, False)
        self.message_user(request, _g("已停用%(n)s个定时任务") % {"n": count})

    @admin.action(description=_("切换所选定时任务的启用状态"), permissions=["change"])
    def toggle_tasks(self, request, queryset):
        count = self._set_enabled(request, queryset, None)
        self.message_user(request, _g("已切换%(n)s个定时任务的启用状态") % {"n": count})


class AuditedCrontabScheduleAdmin(AuditedScheduleMixin, beat_admin.CrontabScheduleAdmin):
    list_display = ("__str__", "described")
    fields = ("described", "minute", "hour", "day_of_month", "month_of_year", "day_of_week",
              "timezone")  # fmt: skip
    readonly_fields = ("described",)

    @admin.display(description=_("说明"))
    def described(self, obj):
        """django-celery-beat's `human_readable` raised on a value its form was refusing
        (minute "-1": a 500 on the re-shown form, found by tests/properties)."""
        try:
            return obj.human_readable
        except ParseException:
            return "—"


class AuditedIntervalScheduleAdmin(AuditedScheduleMixin, beat_admin.IntervalScheduleAdmin):
    pass


class AuditedSolarScheduleAdmin(AuditedScheduleMixin, beat_admin.SolarScheduleAdmin):
    pass


class AuditedClockedScheduleAdmin(AuditedScheduleMixin, beat_admin.ClockedScheduleAdmin):
    pass


for _model, _admin_class in [
    (PeriodicTask, AuditedPeriodicTaskAdmin),
    (CrontabSchedule, AuditedCrontabScheduleAdmin),
    (IntervalSchedule, AuditedIntervalScheduleAdmin),
    (SolarSchedule, AuditedSolarScheduleAdmin),
    (ClockedSchedule, AuditedClockedScheduleAdmin),
]:
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin_class)
