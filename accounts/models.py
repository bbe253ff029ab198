"""People, users and region policies: the lowest layer (accounts <- family <- payments)."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from . import idnumber

REGION_CODE_VALIDATOR = RegexValidator(r"^\d{6}$", _("统筹区编码应为6位数字"))
PHONE_VALIDATOR = RegexValidator(r"^1\d{10}$", _("请输入11位手机号码"))

# The age of majority: 民法典第十七条, 十八周岁以上的自然人为成年人. Below it a member is a minor,
# whose deduction order a holder sets (R10) and for whom a guardian acts (R22); a region's
# consent age (R8) cannot be above it. accounts.selectors.person_is_minor applies it.
ADULT_AGE = 18


class User(AbstractUser):
    """Custom user from the first migration. Citizens log in by identity number (see backends);
    staff by username. `regions` scopes a staff user to the pooling regions they serve."""

    regions = models.ManyToManyField(
        "accounts.RegionPolicy",
        blank=True,
        related_name="staff",
        verbose_name=_("负责统筹区"),
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("用户")
        verbose_name_plural = _("用户")


class RelationProof(models.TextChoices):
    """R18: what proves the family relation at the counter (one of them, as the region accepts)."""

    HOUSEHOLD_REGISTER = "household_register", _("户口簿")
    MARRIAGE_CERTIFICATE = "marriage_certificate", _("结婚证")
    RELATIONSHIP_LETTER = "relationship_letter", _("签字的家庭关系承诺书")


COUNTER_PROOFS_INVALID = _(
    "请至少选择一种关系证明，且只能从户口簿、结婚证、签字的家庭关系承诺书中选择"
)


def default_counter_relation_proofs() -> list[str]:
    return [proof.value for proof in RelationProof]


class RegionPolicy(models.Model):
    """A pooling region (统筹区) and its family mutual-aid policy, edited by staff as data."""

    class MemberScope(models.TextChoices):
        CITY = "city", _("本统筹区")
        PROVINCE = "province", _("本省")
        NATIONAL = "national", _("全国")

    class CounterAgreement(models.TextChoices):
        RELATIONSHIP_LETTER = "relationship_letter", _("家庭关系承诺书")
        WITHHOLDING_AGREEMENT = "withholding_agreement", _("个人账户代扣协议")

    class OnlineLetter(models.TextChoices):
        RELATIONSHIP_LETTER = "relationship_letter", _("家庭关系承诺书")
        MUTUAL_AID_LETTER = "mutual_aid_letter", _("共济承诺书")

    class FallbackOrder(models.TextChoices):
        FILING = "filing", _("按绑定先后顺序")
        BALANCE = "balance", _("按账户余额从高到低")

    code = models.CharField(
        _("统筹区编码"), max_length=6, unique=True, validators=[REGION_CODE_VALIDATOR]
    )
    name = models.CharField(_("统筹区名称"), max_length=50)
    province_code = models.GeneratedField(
        expression=Substr("code", 1, 2),
        output_field=models.CharField(max_length=2),
        db_persist=True,
        verbose_name=_("省级编码"),
    )
    member_scope = models.CharField(
        _("共济成员范围"), max_length=10, choices=MemberScope, default=MemberScope.PROVINCE
    )
    member_in_several_relationships = models.BooleanField(
        _("成员可加入多个共济关系"),
        default=False,
        help_text=_("江苏：否（先退出再加入）；五家渠：是（父母双方可同时绑定子女，由成员排序）"),
    )
    consent_age = models.PositiveSmallIntegerField(
        _("需本人同意的年龄"),
        null=True,
        blank=True,
        default=16,
        validators=[MaxValueValidator(ADULT_AGE)],
        help_text=_("达到该年龄的成员须本人登录确认；留空表示不需成员确认"),  # R8
    )
    consent_days = models.PositiveSmallIntegerField(
        _("同意请求有效天数"), default=7, validators=[MinValueValidator(1)]
    )
    max_window_days = models.PositiveIntegerField(
        _("授权期限上限（天）"), null=True, blank=True, help_text=_("留空表示可长期有效，直至解除")
    )
    online_letter = models.CharField(
        _("网上办理承诺书"),
        max_length=30,
        choices=OnlineLetter,
        default=OnlineLetter.RELATIONSHIP_LETTER,
    )
    counter_agreement = models.CharField(
        _("窗口办理协议"),
        max_length=30,
        choices=CounterAgreement,
        default=CounterAgreement.RELATIONSHIP_LETTER,
    )
    # R21
    max_members_at_once = models.PositiveSmallIntegerField(
        _("同时绑定成员上限"), null=True, blank=True, help_text=_("留空表示不限")
    )
    max_members_lifetime = models.PositiveSmallIntegerField(
        _("累计绑定成员上限"),
        null=True,
        blank=True,
        help_text=_("留空表示不限；同一人重复绑定只计一次"),
    )
    retained_floor = models.DecimalField(
        _("个人账户保留额度"),
        max_digits=14,
        decimal_places=2,
        default=0,
        help_text=_("余额超过该额度的部分才可共济使用"),
    )
    several_holders_per_settlement = models.BooleanField(
        _("一次结算可由多个主账户支付"), default=True
    )
    fallback_order = models.CharField(
        _("未设置时的扣款顺序"), max_length=10, choices=FallbackOrder, default=FallbackOrder.FILING
    )
    spouse_confirmation = models.BooleanField(_("绑定配偶需配偶确认"), default=False)
    # Counter channel (R18, issue 6)
    counter_relation_proofs = models.JSONField(
        _("窗口可接受的关系证明"),
        default=default_counter_relation_proofs,
        blank=True,
        help_text=_(
            "窗口绑定时须查验其中至少一种：household_register（户口簿）、"
            "marriage_certificate（结婚证）、relationship_letter（签字的家庭关系承诺书）"
        ),
    )
    review_member_threshold = models.PositiveSmallIntegerField(
        _("窗口绑定需审核的成员数"),
        null=True,
        blank=True,
        default=4,
        help_text=_("绑定后共济成员超过该人数的窗口办理须经审核；留空表示不按人数审核"),
    )
    review_grandparent_relations = models.BooleanField(
        _("祖孙关系的窗口绑定须审核"),
        default=True,
        help_text=_("绑定祖父母、外祖父母、孙子女、外孙子女时须经审核"),
    )
    # R23 (the wallet app reads it; accounts knows nothing of wallets)
    wallet_enabled = models.BooleanField(
        _("开通医保钱包"),
        default=False,
        help_text=_("勾选后，本统筹区正常参保的参保人可以确认使用医保钱包"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("统筹区政策")
        verbose_name_plural = _("统筹区政策")
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[0-9]{6}$"), name="regionpolicy_code_6_digits"
            ),
            models.CheckConstraint(
                condition=Q(consent_age__lte=ADULT_AGE), name="regionpolicy_consent_age_max_18"
            ),
            models.CheckConstraint(
                condition=Q(consent_days__gte=1), name="regionpolicy_consent_days_positive"
            ),
            models.CheckConstraint(
                condition=Q(retained_floor__gte=0), name="regionpolicy_floor_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(max_members_lifetime__isnull=True)
                | Q(max_members_at_once__isnull=True)
                | Q(max_members_lifetime__gte=F("max_members_at_once")),
                name="regionpolicy_lifetime_cap_covers_at_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def province_name(self) -> str:
        return idnumber.province_name(self.code)

    def clean(self) -> None:
        if self.code and idnumber.province_name(self.code) == "":
            raise ValidationError({"code": _("统筹区编码的前两位不是有效的省级编码")})
        if (
            self.max_members_at_once is not None
            and self.max_members_lifetime is not None
            and self.max_members_lifetime < self.max_members_at_once
        ):
            raise ValidationError({"max_members_lifetime": _("累计绑定上限不能小于同时绑定上限")})
        proofs = self.counter_relation_proofs
        if not isinstance(proofs, list) or not proofs or not set(proofs) <= set(RelationProof):
            raise ValidationError({"counter_relation_proofs": COUNTER_PROOFS_INVALID})


class ResidentPremium(models.Model):
    """The yearly resident-scheme premium of a region (R16), with its periods."""

    region = models.ForeignKey(
        RegionPolicy, on_delete=models.PROTECT, related_name="premiums", verbose_name=_("统筹区")
    )
    year = models.PositiveSmallIntegerField(
        _("年度"), validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    amount = models.DecimalField(_("个人缴费标准（元）"), max_digits=14, decimal_places=2)
    collection_start = models.DateField(_("集中缴费期开始"))
    collection_end = models.DateField(_("集中缴费期结束"))
    benefit_start = models.DateField(_("待遇享受期开始"))
    benefit_end = models.DateField(_("待遇享受期结束"))
    waiting_months = models.PositiveSmallIntegerField(
        _("逾期缴费待遇等待期（月）"), default=3, validators=[MaxValueValidator(12)]
    )

    class Meta:
        ordering = ["region__code", "year"]
        verbose_name = _("城乡居民医保缴费标准")
        verbose_name_plural = _("城乡居民医保缴费标准")
        constraints = [
            models.UniqueConstraint(fields=["region", "year"], name="residentpremium_one_per_year"),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="residentpremium_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(collection_end__gte=F("collection_start")),
                name="residentpremium_collection_ordered",
            ),
            models.CheckConstraint(
                condition=Q(benefit_end__gte=F("benefit_start")),
                name="residentpremium_benefit_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.region.name} {self.year}"

    def clean(self) -> None:
        errors = {}
        if (
            self.collection_start
            and self.collection_end
            and self.collection_end < self.collection_start
        ):
            errors["collection_end"] = _("集中缴费期结束日期不能早于开始日期")
        if self.benefit_start and self.benefit_end and self.benefit_end < self.benefit_start:
            errors["benefit_end"] = _("待遇享受期结束日期不能早于开始日期")
        if self.amount is not None and self.amount <= 0:
            errors["amount"] = _("缴费标准必须大于0")
        if errors:
            raise ValidationError(errors)


def mask_name(name: str) -> str:
    """王建国 -> 王*国, 张伟 -> 张* (also for names read with `.values()`)."""
    if len(name) <= 2:
        return name[:1] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """13800000003 -> 138****0003: what a page, a log line or the audit trail shows of a phone."""
    phone = phone or ""
    if len(phone) != 11:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


class InsuredPerson(models.Model):
    """参保人: the bureau's record of an insured person, optionally claimed by a citizen user."""

    class Scheme(models.TextChoices):
        EMPLOYEE = "employee", _("职工医保")
        RESIDENT = "resident", _("城乡居民医保")

    class Status(models.TextChoices):
        NORMAL = "normal", _("正常参保")
        SUSPENDED = "suspended", _("暂停参保")
        TRANSFERRED = "transferred", _("已转出")
        TERMINATED = "terminated", _("已终止")

    class Sex(models.TextChoices):
        MALE = "M", _("男")
        FEMALE = "F", _("女")

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("姓名"), max_length=50)
    id_number = models.CharField(
        _("身份证号码"),
        max_length=18,
        unique=True,
        validators=[idnumber.validate_id_number],
        error_messages={"unique": _("该身份证号码已登记")},
    )
    birth_date = models.DateField(_("出生日期"), editable=False)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex, editable=False)
    phone = models.CharField(_("手机号码"), max_length=11, validators=[PHONE_VALIDATOR])
    region = models.ForeignKey(
        RegionPolicy, on_delete=models.PROTECT, related_name="persons", verbose_name=_("参保统筹区")
    )
    scheme = models.CharField(_("参保险种"), max_length=10, choices=Scheme)
    status = models.CharField(_("参保状态"), max_length=12, choices=Status, default=Status.NORMAL)
    user = models.OneToOneField(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="insured_person",
        verbose_name=_("登录账号"),
    )
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["region__code", "name"]
        verbose_name = _("参保人")
        verbose_name_plural = _("参保人")
        constraints = [
            models.CheckConstraint(
                condition=Q(id_number__regex=r"^[0-9]{17}[0-9X]$"),
                name="insuredperson_id_number_shape",
            ),
            models.CheckConstraint(
                condition=Q(phone__regex=r"^1[0-9]{10}$"), name="insuredperson_phone_shape"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.masked_id_number}）"

    @property
    def masked_id_number(self) -> str:
        return idnumber.mask(self.id_number)

    @property
    def masked_name(self) -> str:
        """王建国 -> 王*国, 张伟 -> 张*: what outside systems (the institution API) may show."""
        return mask_name(self.name)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def is_employee(self) -> bool:
        return self.scheme == self.Scheme.EMPLOYEE

    def clean(self) -> None:
        """Birth date and sex always come from the identity number (single-row invariant)."""
        if self.id_number:
            self.id_number = idnumber.normalize(self.id_number)
            try:
                facts = idnumber.parse(self.id_number)
            except ValidationError:
                return  # the field validator reports it next to the field
            self.birth_date = facts.birth_date
            self.sex = facts.sex


# What staff read for an audit action code (issue 6): an event that happened (the context keeps
# these apart from the same words on buttons). Codes are written by the services of every app; a
# code missing here is shown as it is.
AUDIT_ACTION_LABELS = {
    "person.register": pgettext_lazy("audit action", "登记参保人"),
    "person.activate": pgettext_lazy("audit action", "激活网上服务账号"),
    "phone_code.send": pgettext_lazy("audit action", "发送短信验证码"),
    "phone_code.wrong": pgettext_lazy("audit action", "短信验证码输入错误"),
    "phone_code.void": pgettext_lazy("audit action", "短信验证码作废"),
    "person.status_change": pgettext_lazy("audit action", "变更参保状态"),
    "user.password_change": pgettext_lazy("audit action", "修改密码"),
    "relationship.create": pgettext_lazy("audit action", "建立家庭共济关系"),
    "relationship.end": pgettext_lazy("audit action", "终止家庭共济关系"),
    "authorization.create": pgettext_lazy("audit action", "绑定共济成员"),
    "authorization.consent": pgettext_lazy("audit action", "成员答复绑定"),
    "authorization.start": pgettext_lazy("audit action", "共济授权生效"),
    "authorization.window_change": pgettext_lazy("audit action", "变更授权期限"),
    "authorization.cap": pgettext_lazy("audit action", "设置单笔支付上限"),
    "authorization.revoke": pgettext_lazy("audit action", "解除共济授权"),
    "authorization.leave": pgettext_lazy("audit action", "成员退出共济"),
    "authorization.lapse": pgettext_lazy("audit action", "确认超期失效"),
    "authorization.expire": pgettext_lazy("audit action", "授权到期"),
    "authorization.terminate": pgettext_lazy("audit action", "参保状态变化终止授权"),
    "letter.sign": pgettext_lazy("audit action", "签署承诺书"),
    "member.deduction_order": pgettext_lazy("audit action", "设置扣款顺序"),
    "guardianship.register": pgettext_lazy("audit action", "登记监护关系"),
    "counter_binding.start": pgettext_lazy("audit action", "窗口绑定：开始办理"),
    "counter_binding.member_add": pgettext_lazy("audit action", "窗口绑定：添加成员"),
    "counter_binding.member_remove": pgettext_lazy("audit action", "窗口绑定：移除成员"),
    "counter_binding.documents": pgettext_lazy("audit action", "窗口绑定：记录查验材料"),
    "counter_binding.letter_print": pgettext_lazy("audit action", "窗口绑定：打印承诺书"),
    "counter_binding.scan_attach": pgettext_lazy("audit action", "窗口绑定：上传签字件"),
    "counter_binding.submit": pgettext_lazy("audit action", "窗口绑定：提交审核"),
    "counter_binding.done": pgettext_lazy("audit action", "窗口绑定：生效"),
    "counter_binding.approve": pgettext_lazy("audit action", "窗口绑定：审核同意"),
    "counter_binding.reject": pgettext_lazy("audit action", "窗口绑定：审核驳回"),
    "counter_binding.cancel": pgettext_lazy("audit action", "窗口绑定：作废"),
    "account.credit": pgettext_lazy("audit action", "个人账户划入"),
    "account.credit_import": pgettext_lazy("audit action", "导入划入文件"),
    "account.credit_import_done": pgettext_lazy("audit action", "划入文件全部入账"),
    "settlement.create": pgettext_lazy("audit action", "医药费用结算"),
    "settlement.refund": pgettext_lazy("audit action", "结算退费"),
    "premium.pay": pgettext_lazy("audit action", "个账代缴居民医保费"),
    "filing.create": pgettext_lazy("audit action", "异地就医备案"),
    "filing.end": pgettext_lazy("audit action", "终止异地就医备案"),
    "institution.create": pgettext_lazy("audit action", "登记定点医药机构"),
    "institution.designation_set": pgettext_lazy("audit action", "变更定点资格"),
    "institution.secret_rotate": pgettext_lazy("audit action", "更换机构接口密钥"),
    "ledger.reconcile": pgettext_lazy("audit action", "个人账户对账"),
    "audit.export": pgettext_lazy("audit action", "导出审计记录"),
    "wallet.open": pgettext_lazy("audit action", "确认使用医保钱包"),
    "wallet.close": pgettext_lazy("audit action", "关闭医保钱包"),
    "wallet.transfer_send": pgettext_lazy("audit action", "医保钱包转账转出"),
    "wallet.transfer_accepted": pgettext_lazy("audit action", "接收医保钱包转账"),
    "wallet.transfer_declined": pgettext_lazy("audit action", "拒收医保钱包转账"),
    "wallet.transfer_returned": pgettext_lazy("audit action", "医保钱包转账逾期退回"),
}


class AuditEntry(models.Model):
    """R20: who, which channel, when, before and after.

    Append-only: on PostgreSQL a trigger refuses UPDATE and DELETE (migration 0002). Lives in the
    lowest app so that every app can write it."""

    class Channel(models.TextChoices):
        ONLINE = "online", _("网上服务")
        COUNTER = "counter", _("经办窗口")
        ADMIN = "admin", _("经办管理后台")
        SYSTEM = "system", _("系统任务")
        API = "api", _("机构接口")

    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel)
    action = models.CharField(_("操作"), max_length=60)  # indexed below, without a LIKE twin
    object_type = models.CharField(_("对象类型"), max_length=60)
    object_id = models.CharField(_("对象编号"), max_length=64)
    person = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("相关参保人"),
    )
    before = models.JSONField(_("变更前"), null=True, blank=True)
    after = models.JSONField(_("变更后"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        permissions = [("export_auditentry", _("导出审计记录"))]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["action"], name="auditentry_action"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action}"

    @property
    def action_label(self) -> str:
        return str(AUDIT_ACTION_LABELS.get(self.action, self.action))


class Notification(models.Model):
    """站内信 (issue 5): one message to one insured person, shown in their inbox and, where their
    account has an e-mail address, sent once by mail.

    `key` makes each notification happen once: `(recipient, key)` is unique, and writers insert
    with ON CONFLICT DO NOTHING, so a task that runs twice (or two workers at once) tells nobody
    twice. The text is not stored: `kind` and `params` are rendered in the reader's language
    (`accounts.notices`)."""

    class Kind(models.TextChoices):
        CONSENT_REQUESTED = "consent_requested", _("家庭共济绑定待确认")
        STARTED = "started", _("共济授权开始生效")
        EXPIRING = "expiring", _("共济授权即将到期")
        EXPIRED = "expired", _("共济授权已到期")
        ENDED = "ended", _("共济授权已终止")
        PREMIUM_PAID = "premium_paid", _("已为您代缴居民医保费")
        SETTLEMENT_PAID = "settlement_paid", _("个人账户为家庭成员支付")
        TRANSFER_RECEIVED = "transfer_received", _("医保钱包转账待接收")
        TRANSFER_ACCEPTED = "transfer_accepted", _("医保钱包转账已接收")
        TRANSFER_DECLINED = "transfer_declined", _("医保钱包转账被拒收")
        TRANSFER_RETURNED = "transfer_returned", _("医保钱包转账逾期退回")

    class EmailStatus(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENDING = "sending", _("发送中")
        SENT = "sent", _("已发送")
        NO_ADDRESS = "no_address", _("无邮箱地址")
        FAILED = "failed", _("发送失败")

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    recipient = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        related_name="notifications",
        verbose_name=_("收件人"),
        db_index=False,  # notification_once and (recipient, -created_at) both lead with it
    )
    kind = models.CharField(_("类型"), max_length=20, choices=Kind)
    key = models.CharField(_("去重键"), max_length=160)
    params = models.JSONField(_("内容参数"), default=dict)
    link = models.CharField(_("相关页面"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)
    email_status = models.CharField(
        _("邮件状态"), max_length=12, choices=EmailStatus, default=EmailStatus.PENDING
    )
    emailed_at = models.DateTimeField(_("邮件发送时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("站内信")
        verbose_name_plural = _("站内信")
        constraints = [
            models.UniqueConstraint(fields=["recipient", "key"], name="notification_once"),
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at"]),
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            ),
            models.Index(
                fields=["id"],
                condition=Q(email_status="pending"),
                name="notification_email_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient.name}"


PHONE_CODE_MAX_WRONG = 5  # wrong entries that void a code


class PhoneCode(models.Model):
    """A one-time code sent by SMS to the registered phone, proving its possession (issue 13).

    Only an HMAC of the code is kept (keyed with SECRET_KEY), never the code. A code is open until
    it is used or voided; the database keeps at most one open code per person and purpose. The
    rules (5 minutes, 5 wrong entries, 60 s between codes, 5 codes a day) are the services'
    (`accounts.services.phone_codes`); everything lives here, so the cache plays no part."""

    class Purpose(models.TextChoices):
        ACTIVATE = "activate", _("激活网上服务账号")

    class VoidReason(models.TextChoices):
        REPLACED = "replaced", _("已发送新的验证码")
        TOO_MANY_WRONG = "too_many_wrong", _("输入错误次数过多")
        SEND_FAILED = "send_failed", _("短信发送失败")

    person = models.ForeignKey(
        InsuredPerson,
        on_delete=models.CASCADE,
        related_name="phone_codes",
        verbose_name=_("参保人"),
    )
    purpose = models.CharField(_("用途"), max_length=20, choices=Purpose)
    code_hmac = models.CharField(_("验证码摘要"), max_length=64)
    phone = models.CharField(_("发送号码"), max_length=11)
    created_at = models.DateTimeField(_("发送时间"))
    expires_at = models.DateTimeField(_("失效时间"))
    wrong_attempts = models.PositiveSmallIntegerField(_("输错次数"), default=0)
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)
    voided_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    void_reason = models.CharField(
        _("作废原因"), max_length=20, choices=VoidReason, blank=True, default=""
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("短信验证码")
        verbose_name_plural = _("短信验证码")
        constraints = [
            models.UniqueConstraint(
                fields=["person", "purpose"],
                condition=Q(used_at__isnull=True, voided_at__isnull=True),
                name="phonecode_one_open_per_purpose",
            ),
            models.CheckConstraint(
                condition=Q(code_hmac__regex=r"^[0-9a-f]{64}$"), name="phonecode_hmac_shape"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="phonecode_expires_after"
            ),
            models.CheckConstraint(
                condition=Q(wrong_attempts__lte=PHONE_CODE_MAX_WRONG),
                name="phonecode_wrong_attempts_max",
            ),
            models.CheckConstraint(
                condition=Q(used_at__isnull=True) | Q(voided_at__isnull=True),
                name="phonecode_used_or_voided",
            ),
        ]
        indexes = [models.Index(fields=["person", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} → {mask_phone(self.phone)}"
