"""Staff pages for money in /admin/ (issue 4).

The ledger, settlements, refunds and premiums are read-only here: money moves only through
`payments.services` (the ledger's invariants, R11, R17, R20). Nothing in this admin deletes a row
(`has_delete_permission` is False everywhere). The writes staff do make all go through a service
that audits them:
- 个人账户划入: a CSV file uploaded on the 导入划入文件 page (`credits_import_csv`: whole file or
  nothing, row-level errors shown; staged at once, posted by the worker in chunks, its progress
  on the batch's page and in the list); the same service backs `manage.py import_credits`;
- institutions: created through `institution_create` (the API secret is shown once, in a message,
  and never again: the secret field is on no form and no page), the 重置接口密钥 action
  (`institution_secret_rotate`, shown once too) and the designated flag
  (`institution_designation_set`);
- 异地就医备案 (R19): added through `out_of_region_filing_create`, ended through
  `out_of_region_filing_end`.

个人账户对账 (issue 5 point 6): the nightly runs and their mismatches, read-only; the admin index
shows the latest run's result (templates/admin/index.html, `payments_admin` tags).

A personal account's change page shows its newest legs and links to the staff statement, which
lists the same entries as the citizen's 我的个人账户 (same selectors, filter and CSV).

Lists show masked identity numbers only; search takes an exact full number or part of a name.

Region scope (issue 6): a staff user sees the money of their regions only
(`RegionScopedAdminMixin`): accounts by their region (a person's, or a bureau account's own), a
transaction when one of its legs is on an account of their regions (and only those legs), a
settlement or refund by the institution's or the patient's region, premiums by the member's,
filings by the person's, mismatches by the account's, and a credit file only when every row of it
is for a person of their regions; an upload that would credit anyone else is refused. The
reconciliation runs stay visible to every staff user who may view them: a run carries only totals;
the accounts it lists are narrowed to the user's regions.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Concat, Left
from django.http import Http404
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdminMixin, RegionScopedAdminMixin, adopt_saved
from accounts.audit_trail import mask_text
from accounts.models import AuditEntry
from accounts.selectors import in_staff_scope, staff_region_ids

from . import selectors, services
from .models import (
    CreditImport,
    CreditRow,
    CreditSource,
    Institution,
    LedgerAccount,
    LedgerLeg,
    LedgerTransaction,
    OutOfRegionFiling,
    PremiumPayment,
    PremiumPaymentLine,
    ReconciliationMismatch,
    ReconciliationRun,
    Refund,
    RefundLine,
    Settlement,
    SettlementLine,
)
from .services import filings as filing_services
from .views.statements import (
    signed_amount,
    statement_context,
    statement_csv,
)

RECENT_LEGS = 20
RUN_MISMATCHES_SHOWN = 50
MAX_UPLOAD_BYTES = 5 * 1024 * 1024

CREDITS_IMPORTED = _(
    "已受理划入文件“%(file)s”（%(source)s）：%(rows)s行，合计%(total)s元。"
    "全部行已通过校验，正在后台分批入账，进度见本页。"
)
CREDIT_PROGRESS = _("%(posted)s / %(rows)s 行已入账")
CREDIT_PROGRESS_REFRESH = _("刷新进度")
CREDIT_REFRESH_SECONDS = 5
CREDITS_REFUSED = _("文件未导入：请按下列行号修改后重新上传。文件中的任何一行都没有入账。")
UPLOAD_TOO_LARGE = _("文件不能超过5MB")
INSTITUTION_CREATED = _(
    "已创建%(name)s。接口密钥：%(secret)s —— 仅显示这一次，请立即安全地交给该机构；"
    "之后任何页面都不再显示，遗失只能重置。"
)
INSTITUTION_SECRET_ROTATED = _(
    "%(name)s的新接口密钥：%(secret)s —— 仅显示这一次，旧密钥已立即失效。"
)
FILING_END_REQUIRED = _("请填写备案结束日期")


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields


def _person_columns(prefix: str, label_name, label_id):
    """Two list columns for the person at `prefix`: name and masked identity number."""

    @admin.display(description=label_name, ordering=f"{prefix}__name")
    def name(self, obj):
        person = getattr(obj, prefix)
        return "—" if person is None else person.name

    @admin.display(description=label_id)
    def masked_id(self, obj):
        person = getattr(obj, prefix)
        return "—" if person is None else person.masked_id_number

    return name, masked_id


def _money(value) -> str:
    return "—" if value is None else f"{value:.2f}"


# ---------------------------------------------------------------------------------------------
# accounts and their statements


@admin.register(LedgerAccount)
class LedgerAccountAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    person_name, person_masked_id = _person_columns("person", _("参保人"), _("身份证号码"))
    list_display = ["person_name", "person_masked_id", "kind", "region", "balance_display"]
    list_filter = ["kind", "region"]
    list_select_related = ["person", "region"]
    search_fields = ["person__name", "=person__id_number"]
    fields = [
        "public_id",
        "kind",
        "person",
        "region",
        "balance_display",
        "created_at",
        "statement_link",
        "recent_legs",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("person", "region")

    @admin.display(description=_("余额（元）"), ordering="balance")
    def balance_display(self, obj):
        return _money(obj.balance)

    @admin.display(description=_("收支明细"))
    def statement_link(self, obj):
        url = reverse("admin:payments_ledgeraccount_statement", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("查看全部收支明细（可筛选、导出）"))

    @admin.display(description=_("最近收支明细"))
    def recent_legs(self, obj):
        legs = list(selectors.statement_legs(account=obj)[:RECENT_LEGS])
        if not legs:
            return _("暂无收支明细")
        entries = selectors.entries_with_counterparts(legs=legs, account=obj)
        return render_to_string(
            "admin/payments/ledgeraccount/entries_table.html",
            {"entries": [(e, signed_amount(e.amount)) for e in entries]},
        )

    # -- the staff statement: the citizen page's entries, filter and CSV, in the admin --------

    def get_urls(self):
        own = [
            path(
                "<path:object_id>/statement/",
                self.admin_site.admin_view(self.statement_view),
                name="payments_ledgeraccount_statement",
            ),
            path(
                "<path:object_id>/statement/export.csv",
                self.admin_site.admin_view(self.statement_csv_view),
                name="payments_ledgeraccount_statement_csv",
            ),
        ]
        return own + super().get_urls()

    def _account(self, request, object_id) -> LedgerAccount:
        if not self.has_view_permission(request):
            raise PermissionDenied
        account = self.get_object(request, object_id)
        if account is None:
            raise Http404
        return account

    def statement_view(self, request, object_id):
        account = self._account(request, object_id)
        url = reverse("admin:payments_ledgeraccount_statement", args=[account.pk])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "account": account,
            "title": _g("收支明细：%(account)s") % {"account": _account_label(account)},
            **statement_context(request=request, account=account, base_url=url),
        }
        return TemplateResponse(request, "admin/payments/ledgeraccount/statement.html", context)

    def statement_csv_view(self, request, object_id):
        account = self._account(request, object_id)
        url = reverse("admin:payments_ledgeraccount_statement", args=[account.pk])
        return statement_csv(request=request, account=account, page_url=url)


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _account_label(account: LedgerAccount) -> str:
    if account.person_id:
        return f"{account.person.name}（{account.person.masked_id_number}）"
    return f"{account.get_kind_display()} · {account.region}"


# ---------------------------------------------------------------------------------------------
# ledger transactions (append-only)


class LedgerLegInline(ReadOnlyInline):
    model = LedgerLeg
    fields = ["account", "amount", "balance_after"]

    def get_queryset(self, request):
        # Only the legs on accounts of the user's regions: the other region's side of a
        # movement (an out-of-region settlement) is that region's money.
        legs = super().get_queryset(request).select_related("account__person", "account__region")
        return in_staff_scope(legs, user=request.user, region_field="account__region")


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "kind", "description", "occurred_at"]
    list_filter = ["kind"]
    search_fields = ["description", "=idempotency_key"]
    date_hierarchy = "created_at"
    fields = ["public_id", "kind", "description", "occurred_at", "created_at", "key_masked"]
    readonly_fields = fields
    inlines = [LedgerLegInline]

    @admin.display(description=_("幂等键"))
    def key_masked(self, obj):
        # Keys written before issue 13 (demo opening balances, old credit imports) hold full
        # identity numbers: shown masked, like everywhere else.
        return mask_text(obj.idempotency_key)

    def scope_queryset(self, queryset, request):
        if staff_region_ids(user=request.user) is None:
            return queryset
        legs = in_staff_scope(
            LedgerLeg.objects.all(), user=request.user, region_field="account__region"
        )
        return queryset.filter(pk__in=legs.values("transaction_id"))


# ---------------------------------------------------------------------------------------------
# settlements and refunds (R9, R17)


class SettlementLineInline(ReadOnlyInline):
    model = SettlementLine
    fields = ["position", "source", "payer_display", "amount", "authorization"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("payer", "authorization__holder", "authorization__member")
        )

    @admin.display(description=_("付款人"))
    def payer_display(self, obj):
        return f"{obj.payer.name}（{obj.payer.masked_id_number}）"


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["public_id", "amount", "cash_part", "created_at"]
    show_change_link = True


@admin.register(Settlement)
class SettlementAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    region_field = ("institution__region", "patient__region")
    patient_name, patient_masked_id = _person_columns("patient", _("患者"), _("患者身份证号码"))
    list_display = [
        "created_at",
        "institution",
        "patient_name",
        "patient_masked_id",
        "category",
        "amount",
        "cash_due",
        "refunded",
        "status",
    ]
    list_filter = ["status", "category", "institution__region"]
    list_select_related = ["institution", "patient"]
    search_fields = ["patient__name", "=patient__id_number", "=institution__code"]
    date_hierarchy = "created_at"
    fields = [
        "public_id",
        "institution",
        "patient",
        "category",
        "amount",
        "cash_due",
        "refunded",
        "status",
        "items_display",
        "occurred_at",
        "created_at",
        "updated_at",
        "ledger_transaction",
        "idempotency_key",
        "request_hash",
    ]
    readonly_fields = fields
    inlines = [SettlementLineInline, RefundInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("institution", "patient", "ledger_transaction")
        )

    @admin.display(description=_("明细"))
    def items_display(self, obj):
        items = obj.items if isinstance(obj.items, list) else []
        rows = format_html_join(
            "",
            "<li>{}：{}</li>",
            (
                (str(item.get("name", "")), str(item.get("amount", "")))
                for item in items
                if isinstance(item, dict)
            ),
        )
        return format_html("<ul>{}</ul>", rows) if items else "—"


class RefundLineInline(ReadOnlyInline):
    model = RefundLine
    fields = ["settlement_line_display", "amount"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("settlement_line__payer")

    @admin.display(description=_("退回的支付明细"))
    def settlement_line_display(self, obj):
        line = obj.settlement_line
        payer = f"{line.payer.name}（{line.payer.masked_id_number}）"
        return f"{line.position}. {line.get_source_display()} · {payer}"


@admin.register(Refund)
class RefundAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    region_field = ("settlement__institution__region", "settlement__patient__region")
    list_display = ["created_at", "settlement", "amount", "cash_part"]
    list_select_related = ["settlement__institution"]
    search_fields = ["settlement__patient__name", "=settlement__patient__id_number"]
    date_hierarchy = "created_at"
    fields = [
        "public_id",
        "settlement",
        "amount",
        "cash_part",
        "created_at",
        "ledger_transaction",
        "idempotency_key",
        "request_hash",
    ]
    readonly_fields = fields
    inlines = [RefundLineInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("settlement__institution", "ledger_transaction")
        )


# ---------------------------------------------------------------------------------------------
# premiums on behalf (R16)


class PremiumPaymentLineInline(ReadOnlyInline):
    model = PremiumPaymentLine
    fields = ["position", "payer_display", "amount"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("payer")

    @admin.display(description=_("付款人"))
    def payer_display(self, obj):
        return f"{obj.payer.name}（{obj.payer.masked_id_number}）"


@admin.register(PremiumPayment)
class PremiumPaymentAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    region_field = "member__region"
    member_name, member_masked_id = _person_columns("member", _("家庭成员"), _("成员身份证号码"))
    list_display = [
        "paid_at",
        "member_name",
        "member_masked_id",
        "year",
        "pay_type",
        "amount",
        "late",
        "benefit_start",
    ]
    list_filter = ["year", "pay_type", "late", "premium__region"]
    list_select_related = ["member"]
    search_fields = ["member__name", "=member__id_number"]
    date_hierarchy = "paid_at"
    fields = [
        "public_id",
        "member",
        "premium",
        "year",
        "pay_type",
        "amount",
        "late",
        "benefit_start",
        "benefit_end",
        "paid_at",
        "paid_by",
        "ledger_transaction",
        "created_at",
    ]
    readonly_fields = fields
    inlines = [PremiumPaymentLineInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("member", "premium__region", "paid_by", "ledger_transaction")
        )


# ---------------------------------------------------------------------------------------------
# monthly credits (划入): CSV upload through credits_import_csv


class CreditUploadForm(forms.Form):
    # Not required: a form posted without it (an older page, a script) is today's 单位缴费划入.
    source = forms.ChoiceField(
        label=_("划入类别"),
        choices=CreditSource.choices,
        initial=CreditSource.EMPLOYER,
        required=False,
    )
    file = forms.FileField(
        label=_("划入文件（CSV）"),
        help_text=_(
            "UTF-8 编码的 CSV，首行为列名 id_number,name,amount,month（身份证号码、姓名、"
            "金额（元，最多两位小数）、月份 YYYY-MM）。任何一行有误，整个文件都不导入；"
            "同一参保人同一月份的同类划入只入账一次，无论来自哪个文件。"
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_source(self):
        return self.cleaned_data["source"] or CreditSource.EMPLOYER

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(UPLOAD_TOO_LARGE, code="too_large")
        return upload


@admin.register(CreditImport)
class CreditImportAdmin(RegionScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "file_name",
        "source",
        "rows",
        "total",
        "status",
        "progress",
        "imported_by",
    ]
    list_filter = ["status", "source"]
    list_select_related = ["imported_by"]
    search_fields = ["file_name", "=file_sha256"]
    date_hierarchy = "created_at"
    fields = [
        "public_id",
        "file_name",
        "source",
        "file_sha256",
        "rows",
        "total",
        "status",
        "progress_refresh",
        "imported_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields

    def scope_queryset(self, queryset, request):
        """A file only when every row of it is for a person of the user's regions (a file
        spanning regions, imported by a superuser or the command, shows to superusers only).
        Files imported before the rows existed (migration 0005) have none: their credits are the
        transactions whose idempotency key ends with the first 16 characters of the file's digest
        (the old key: credit:<number>:<month>:<…>)."""
        regions = staff_region_ids(user=request.user)
        if regions is None:
            return queryset
        rows = CreditRow.objects.filter(batch=OuterRef("pk"))
        staged = Exists(rows.filter(person__region__in=regions)) & ~Exists(
            rows.exclude(person__region__in=regions)
        )
        credited = LedgerLeg.objects.filter(
            transaction__kind=LedgerTransaction.Kind.CREDIT,
            account__kind=LedgerAccount.Kind.PERSONAL,
            transaction__idempotency_key__endswith=Concat(
                Value(":"), Left(OuterRef("file_sha256"), 16)
            ),
        )
        earlier = (
            ~Exists(rows)
            & Exists(credited.filter(account__region__in=regions))
            & ~Exists(credited.exclude(account__region__in=regions))
        )
        return queryset.filter(staged | earlier)

    @admin.display(description=_("入账进度"))
    def progress(self, obj):
        return _g(CREDIT_PROGRESS) % {"posted": obj.rows_posted, "rows": obj.rows}

    @admin.display(description=_("入账进度"))
    def progress_refresh(self, obj):
        if obj.status == CreditImport.Status.DONE:
            return self.progress(obj)
        # href="": this very page again (it also refreshes itself, see change_form.html).
        return format_html(
            '{} · <a href="">{}</a>', self.progress(obj), _g(CREDIT_PROGRESS_REFRESH)
        )

    def has_add_permission(self, request):
        return request.user.has_perm("payments.add_creditimport")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None and any(
            batch.status != CreditImport.Status.DONE for batch in changelist.result_list
        ):
            response.context_data["refresh_seconds"] = CREDIT_REFRESH_SECONDS
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        original = getattr(response, "context_data", {}).get("original")
        if original is not None and original.status != CreditImport.Status.DONE:
            response.context_data["refresh_seconds"] = CREDIT_REFRESH_SECONDS
        return response

    def get_urls(self):
        own = [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="payments_creditimport_upload",
            )
        ]
        return own + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        # A batch is never typed in: "add" is the upload page.
        return redirect("admin:payments_creditimport_upload")

    def upload_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CreditUploadForm(request.POST or None, request.FILES or None)
        errors = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                batch = services.credits_import_csv(
                    data=upload.read(),
                    file_name=upload.name,
                    actor=request.user,
                    source=form.cleaned_data["source"],
                    regions=staff_region_ids(user=request.user),
                )
            except services.CreditImportRefused as exc:
                errors = exc.errors
            else:
                messages.success(
                    request,
                    _g(CREDITS_IMPORTED)
                    % {
                        "file": batch.file_name,
                        "source": batch.get_source_display(),
                        "rows": batch.rows,
                        "total": f"{batch.total:.2f}",
                    },
                )
                return redirect("admin:payments_creditimport_change", batch.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _g("导入划入文件"),
            "form": form,
            "errors": errors,
            "refused": CREDITS_REFUSED,
        }
        return TemplateResponse(request, "admin/payments/creditimport/upload.html", context)


# ---------------------------------------------------------------------------------------------
# institutions: created, re-keyed and (un)designated through the services


class InstitutionAddForm(forms.ModelForm):
    class Meta:
        model = Institution
        fields = ["code", "name", "kind", "region", "designated"]


@admin.register(Institution)
class InstitutionAdmin(RegionScopedAdminMixin, admin.ModelAdmin):
    form = InstitutionAddForm
    list_display = ["code", "name", "kind", "region", "designated", "created_at"]
    list_filter = ["kind", "designated", "region"]
    list_select_related = ["region"]
    search_fields = ["code", "name"]
    actions = ["rotate_secret"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["code", "name", "kind", "region", "designated"]
        return ["public_id", "code", "name", "kind", "region", "designated", "created_at",
                "updated_at"]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Only the designated flag changes here (audited); the secret is on no page at all.
        return ["public_id", "code", "name", "kind", "region", "created_at", "updated_at"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            if "designated" in form.changed_data:
                saved = services.institution_designation_set(
                    institution=obj, designated=obj.designated, actor=request.user
                )
                obj.updated_at = saved.updated_at
            return
        saved, secret = services.institution_create(
            code=obj.code,
            name=obj.name,
            kind=obj.kind,
            region=obj.region,
            designated=obj.designated,
            actor=request.user,
            channel=AuditEntry.Channel.ADMIN,
        )
        adopt_saved(obj, saved)
        messages.warning(request, _g(INSTITUTION_CREATED) % {"name": saved.name, "secret": secret})

    @admin.action(description=_("重置接口密钥"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        institutions = list(queryset.select_related("region"))
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _g("重置接口密钥"),
                "institutions": institutions,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request, "admin/payments/institution/rotate_confirm.html", context
            )
        for institution in institutions:
            secret = services.institution_secret_rotate(institution=institution, actor=request.user)
            messages.warning(
                request,
                _g(INSTITUTION_SECRET_ROTATED) % {"name": institution.name, "secret": secret},
            )
        return None


# ---------------------------------------------------------------------------------------------
# 异地就医备案 (R19)


class FilingForm(forms.ModelForm):
    """Add: person, care region and dates; change: the end date only. The checks are the
    service's (`filings.out_of_region_filing_check` / `_end_check`), run here so that a refusal
    shows next to the form; the service runs them again under its lock."""

    class Meta:
        model = OutOfRegionFiling
        fields = ["person", "care_region", "valid_from", "valid_to"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            if self.instance.pk is None:
                filing_services.out_of_region_filing_check(
                    person=cleaned["person"],
                    care_region=cleaned["care_region"],
                    valid_from=cleaned["valid_from"],
                    valid_to=cleaned.get("valid_to"),
                )
            else:
                if cleaned.get("valid_to") is None:
                    self.add_error("valid_to", FILING_END_REQUIRED)
                    return cleaned
                original = OutOfRegionFiling.objects.get(pk=self.instance.pk)
                filing_services.out_of_region_filing_end_check(
                    filing=original, valid_to=cleaned["valid_to"]
                )
        except ValidationError as exc:
            self.add_error(None, exc)
        return cleaned


@admin.register(OutOfRegionFiling)
class OutOfRegionFilingAdmin(RegionScopedAdminMixin, admin.ModelAdmin):
    form = FilingForm
    region_field = "person__region"
    unscoped_choice_fields = ("care_region",)  # care is elsewhere by definition (R19)
    person_name, person_masked_id = _person_columns("person", _("参保人"), _("身份证号码"))
    list_display = [
        "person_name",
        "person_masked_id",
        "person_region",
        "care_region",
        "valid_from",
        "valid_to",
        "created_at",
    ]
    list_filter = ["care_region"]
    list_select_related = ["person__region", "care_region"]
    search_fields = ["person__name", "=person__id_number"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["person"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["person", "care_region", "valid_from", "valid_to"]
        return ["public_id", "person", "care_region", "valid_from", "valid_to", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["public_id", "person", "care_region", "valid_from", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("person__region", "care_region")

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("参保地"), ordering="person__region__code")
    def person_region(self, obj):
        return obj.person.region

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.out_of_region_filing_end(
                filing=obj, valid_to=obj.valid_to, actor=request.user
            )
        else:
            saved = services.out_of_region_filing_create(
                person=obj.person,
                care_region=obj.care_region,
                valid_from=obj.valid_from,
                valid_to=obj.valid_to,
                actor=request.user,
            )
        adopt_saved(obj, saved)


# ---------------------------------------------------------------------------------------------
# 个人账户对账: nightly reconciliation runs and their mismatches (read-only; never fixed here)


def _account_link(account: LedgerAccount):
    url = reverse("admin:payments_ledgeraccount_change", args=[account.pk])
    return format_html('<a href="{}">{}</a>', url, _account_label(account))


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "started_at",
        "ok",
        "mismatch_count",
        "accounts_checked",
        "wallets_checked",
        "ledger_total",
        "finished_at",
    ]
    list_filter = ["ok"]
    date_hierarchy = "started_at"
    fields = [
        "started_at",
        "finished_at",
        "ok",
        "accounts_checked",
        "wallets_checked",
        "mismatch_count",
        "ledger_total",
        "mismatches_display",
    ]
    readonly_fields = fields

    def get_object(self, request, object_id, from_field=None):
        # The run itself is global (totals only); the accounts it lists are narrowed to the
        # viewer's regions, so the display below needs to know who looks.
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj.viewer = request.user
        return obj

    @admin.display(description=_("不符账户"))
    def mismatches_display(self, obj):
        if not obj.mismatch_count:
            return _("无")
        viewer = getattr(obj, "viewer", None) or AnonymousUser()
        every_kind = obj.mismatches.select_related("account__person", "account__region", "person")
        mismatches = in_staff_scope(every_kind, user=viewer, region_field="region") | (
            in_staff_scope(every_kind, user=viewer, region_field="account__region")
        )
        count = obj.mismatch_count if staff_region_ids(user=viewer) is None else mismatches.count()
        if not count:
            return _("您经办的统筹区没有不符账户")
        shown = mismatches.order_by("kind", "account_id", "person_id")[:RUN_MISMATCHES_SHOWN]
        head = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("不符类别"),
            _("账户"),
            _("账户余额（元）"),
            _("分录合计（元）"),
            _("差额（元）"),
            _("最近一笔分录的变动后余额（元）"),
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    m.get_kind_display(),
                    _mismatch_subject(m),
                    _money(m.balance),
                    _money(m.ledger_sum),
                    _money(m.difference),
                    _money(m.last_balance_after),
                )
                for m in shown
            ),
        )
        url = reverse("admin:payments_reconciliationmismatch_changelist")
        every = format_html(
            '<p><a href="{}?run__id__exact={}">{}</a></p>',
            url,
            obj.pk,
            _g("查看本次全部%(count)s条不符记录") % {"count": count},
        )
        return format_html("<table><thead>{}</thead><tbody>{}</tbody></table>{}", head, rows, every)


def _mismatch_subject(mismatch: ReconciliationMismatch):
    """Whom a mismatch concerns: the account (linked), a wallet's owner, or a region; the
    clearing total concerns all regions."""
    if mismatch.account_id is not None:
        return _account_link(mismatch.account)
    if mismatch.person_id is not None:
        return str(mismatch.person)
    if mismatch.region_id is not None:
        return str(mismatch.region)
    return _("全部统筹区")


@admin.register(ReconciliationMismatch)
class ReconciliationMismatchAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    # The mismatch's own region (the account's, the wallet owner's or the owing region), or its
    # account's for rows recorded without one. The clearing total has neither and is seen only
    # by staff of every region (the national tier).
    region_field = ("region", "account__region")
    list_display = [
        "run_started_at",
        "kind",
        "person_name",
        "person_masked_id",
        "balance",
        "ledger_sum",
        "difference",
        "last_balance_after",
    ]
    list_select_related = ["run", "account__person", "person", "region"]
    list_filter = ["kind"]
    search_fields = [
        "account__person__name",
        "=account__person__id_number",
        "person__name",
        "=person__id_number",
    ]
    date_hierarchy = "run__started_at"
    fields = [
        "run",
        "kind",
        "account_display",
        "balance",
        "ledger_sum",
        "difference",
        "last_balance_after",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("run", "account__person", "account__region", "person", "region")
        )

    @staticmethod
    def _person(obj):
        return obj.person or (obj.account.person if obj.account_id else None)

    @admin.display(description=_("对账时间"), ordering="run__started_at")
    def run_started_at(self, obj):
        return _local(obj.run.started_at)

    @admin.display(description=_("参保人"), ordering="account__person__name")
    def person_name(self, obj):
        person = self._person(obj)
        return person.name if person else "—"

    @admin.display(description=_("身份证号码"))
    def person_masked_id(self, obj):
        person = self._person(obj)
        return person.masked_id_number if person else "—"

    @admin.display(description=_("账户"))
    def account_display(self, obj):
        return _mismatch_subject(obj)
