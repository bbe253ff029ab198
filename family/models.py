"""Family mutual aid (家庭共济): relationships, authorizations, commitment letters, guardianships.

Record timestamps (`created_at`, `ended_at`, `answered_at`) say when something was written; the
business window (`window_start`, `window_end`) says when an authorization may be used. They are
kept apart on purpose: a binding signed today may start next month.

Python services give the friendly message for each rule; the constraints below are the guarantee.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEntry, InsuredPerson, User


class Relation(models.TextChoices):
    """R1: what the member is to the holder."""

    SPOUSE = "spouse", _("配偶")
    PARENT = "parent", _("父母")
    CHILD = "child", _("子女")
    SIBLING = "sibling", _("兄弟姐妹")
    PATERNAL_GRANDPARENT = "paternal_grandparent", _("祖父母")
    MATERNAL_GRANDPARENT = "maternal_grandparent", _("外祖父母")
    PATERNAL_GRANDCHILD = "paternal_grandchild", _("孙子女")
    MATERNAL_GRANDCHILD = "maternal_grandchild", _("外孙子女")


class Channel(models.TextChoices):
    ONLINE = AuditEntry.Channel.ONLINE.value, _("网上服务")
    COUNTER = AuditEntry.Channel.COUNTER.value, _("经办窗口")


def _new_verification_code() -> str:
    """12 characters from an alphabet without look-alikes (no 0/O, 1/I/L)."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(12))


class Relationship(models.Model):
    """家庭共济关系: one holder's family group (R4: at most one active per holder)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("有效")
        ENDED = "ended", _("已终止")

    class EndReason(models.TextChoices):
        HOLDER_ENDED = "holder_ended", _("主账户人解除")
        NO_MEMBERS = "no_members", _("已无共济成员")
        HOLDER_STATUS = "holder_status", _("主账户人参保关系转出或终止")
        STAFF = "staff", _("经办机构终止")

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    holder = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        related_name="relationships_held",
        verbose_name=_("主账户人"),
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status, default=Status.ACTIVE)
    channel = models.CharField(_("办理渠道"), max_length=10, choices=Channel)
    created_at = models.DateTimeField(_("建立时间"), default=timezone.now)
    ended_at = models.DateTimeField(_("终止时间"), null=True, blank=True)
    end_reason = models.CharField(
        _("终止原因"), max_length=20, choices=EndReason, blank=True, default=""
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("家庭共济关系")
        verbose_name_plural = _("家庭共济关系")
        constraints = [
            # R4
            models.UniqueConstraint(
                fields=["holder"],
                condition=Q(status="active"),
                name="relationship_one_active_per_holder",
            ),
            models.CheckConstraint(
                condition=(Q(status="active") & Q(ended_at__isnull=True) & Q(end_reason=""))
                | (Q(status="ended") & Q(ended_at__isnull=False) & ~Q(end_reason="")),
                name="relationship_end_fields_match_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.holder.name}的家庭共济关系"


class AuthorizationQuerySet(models.QuerySet):
    def live(self) -> AuthorizationQuerySet:
        """Pending or active rows, whatever their window: the ones that still count."""
        return self.filter(status__in=Authorization.LIVE_STATUSES)


class Authorization(models.Model):
    """共济授权: one member in one relationship, with an authorization window (R6)."""

    # Not columns: set on rows read for a page (family.selectors' labels, the staff scope of
    # payments.selectors.staff), declared for typing only.
    state: str
    usable: bool
    in_scope: bool

    class Status(models.TextChoices):
        PENDING_CONSENT = "pending_consent", _("待成员确认")
        # Bound and signed, window not started yet; the expiry task makes it ACTIVE at its start
        # (use-time checks do not wait for that: see `is_usable_at`).
        SCHEDULED = "scheduled", _("待生效")
        ACTIVE = "active", _("已授权")
        DECLINED = "declined", _("成员已拒绝")
        LAPSED = "lapsed", _("确认已超期")
        REVOKED = "revoked", _("主账户人已解除")
        LEFT = "left", _("成员已退出")
        EXPIRED = "expired", _("授权已到期")
        TERMINATED = "terminated", _("参保状态变化终止")

    LIVE_STATUSES = (Status.PENDING_CONSENT, Status.SCHEDULED, Status.ACTIVE)
    # Statuses through which a holder pays, once the window has started.
    GRANTED_STATUSES = (Status.SCHEDULED, Status.ACTIVE)

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    relationship = models.ForeignKey(
        Relationship,
        on_delete=models.PROTECT,
        related_name="authorizations",
        verbose_name=_("家庭共济关系"),
    )
    # Denormalised from the relationship so that the database itself can refuse self-binding.
    holder = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        related_name="authorizations_given",
        verbose_name=_("主账户人"),
    )
    member = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        related_name="authorizations_received",
        verbose_name=_("共济成员"),
    )
    relation = models.CharField(_("与主账户人关系"), max_length=24, choices=Relation)
    window_start = models.DateTimeField(_("授权开始时间"))
    window_end = models.DateTimeField(
        _("授权结束时间"), null=True, blank=True, help_text=_("留空表示长期有效，直至解除")
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status)
    # R5: copied from the holder's policy when bound; the partial unique index below makes an
    # exclusive member impossible to bind twice, even by two requests at the same instant.
    exclusive = models.BooleanField(_("独占成员"), default=True, editable=False)
    deduction_position = models.PositiveSmallIntegerField(
        _("扣款顺序"), null=True, blank=True, help_text=_("留空时按统筹区政策的默认顺序")
    )
    payment_cap = models.DecimalField(
        _("单笔支付上限（元）"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("留空表示不限"),
    )
    consent_needed = models.BooleanField(_("需成员确认"), default=False)
    consent_deadline = models.DateTimeField(_("确认截止时间"), null=True, blank=True)
    answered_at = models.DateTimeField(_("成员答复时间"), null=True, blank=True)
    answered_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("答复人"),
    )
    created_at = models.DateTimeField(_("绑定时间"), default=timezone.now)
    ended_at = models.DateTimeField(_("终止时间"), null=True, blank=True)
    end_note = models.CharField(_("终止说明"), max_length=200, blank=True, default="")

    objects = AuthorizationQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("共济授权")
        verbose_name_plural = _("共济授权")
        constraints = [
            # R1: nobody binds themselves.
            models.CheckConstraint(
                condition=~Q(member=F("holder")), name="authorization_no_self_binding"
            ),
            # R6: end strictly after start.
            models.CheckConstraint(
                condition=Q(window_end__isnull=True) | Q(window_end__gt=F("window_start")),
                name="authorization_end_after_start",
            ),
            # One live authorization per holder–member pair.
            models.UniqueConstraint(
                fields=["holder", "member"],
                condition=Q(status__in=["pending_consent", "scheduled", "active"]),
                name="authorization_one_live_per_pair",
            ),
            # R5 (exclusive policy): a member is in one live authorization only.
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(status__in=["pending_consent", "scheduled", "active"], exclusive=True),
                name="authorization_exclusive_member",
            ),
            # R10: a position is used once among a member's live authorizations.
            models.UniqueConstraint(
                fields=["member", "deduction_position"],
                condition=Q(
                    status__in=["pending_consent", "scheduled", "active"],
                    deduction_position__isnull=False,
                ),
                name="authorization_unique_deduction_position",
            ),
            models.CheckConstraint(
                condition=Q(deduction_position__isnull=True) | Q(deduction_position__gte=1),
                name="authorization_position_from_1",
            ),
            models.CheckConstraint(
                condition=Q(payment_cap__isnull=True) | Q(payment_cap__gt=0),
                name="authorization_cap_positive",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["pending_consent", "scheduled", "active"], ended_at__isnull=True
                )
                | (
                    ~Q(status__in=["pending_consent", "scheduled", "active"])
                    & Q(ended_at__isnull=False)
                ),
                name="authorization_ended_at_matches_status",
            ),
        ]
        # The scheduled passes look for live rows by their window and deadline. Partial
        # indexes hold live rows only, so a row that ends leaves them instead of being written
        # into each again (three index writes fewer per ended row, bench/README.md).
        indexes = [
            models.Index(fields=["member", "status"]),
            models.Index(
                fields=["status", "window_end"],
                condition=Q(status__in=["pending_consent", "scheduled", "active"]),
                name="authorization_live_end",
            ),
            models.Index(
                fields=["status", "window_start"],
                condition=Q(status__in=["pending_consent", "scheduled", "active"]),
                name="authorization_live_start",
            ),
            models.Index(
                fields=["status", "consent_deadline"],
                condition=Q(status__in=["pending_consent", "scheduled", "active"]),
                name="authorization_live_deadline",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.holder.name} → {self.member.name}（{self.get_relation_display()}）"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES

    def is_usable_at(self, at) -> bool:
        """The window part of use-time checking; statuses of people are in the selector."""
        return (
            self.status in self.GRANTED_STATUSES
            and self.window_start <= at
            and (self.window_end is None or at <= self.window_end)
        )


class CommitmentLetter(models.Model):
    """承诺书 (R7): signed by the holder; immutable once written (a trigger refuses UPDATE/DELETE
    on PostgreSQL). `text` is the full letter exactly as shown when signing; `content_hash` is its
    SHA-256, so a later change of the stored text can be detected."""

    class Kind(models.TextChoices):
        RELATIONSHIP_LETTER = "relationship_letter", _("家庭关系承诺书")
        MUTUAL_AID_LETTER = "mutual_aid_letter", _("共济承诺书")
        WITHHOLDING_AGREEMENT = "withholding_agreement", _("个人账户代扣协议")

    class Purpose(models.TextChoices):
        BIND = "bind", _("建立家庭共济关系")
        ADD_MEMBERS = "add_members", _("增加共济成员")
        CHANGE_WINDOW = "change_window", _("变更授权期限")

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    verification_code = models.CharField(
        _("核验码"), max_length=12, unique=True, default=_new_verification_code, editable=False
    )
    kind = models.CharField(_("承诺书类型"), max_length=24, choices=Kind)
    purpose = models.CharField(_("办理事项"), max_length=16, choices=Purpose)
    template_version = models.CharField(_("文本版本"), max_length=40)
    text = models.TextField(_("承诺书全文"))
    content_hash = models.CharField(_("内容摘要（SHA-256）"), max_length=64)
    holder = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        related_name="letters_signed",
        verbose_name=_("主账户人"),
    )
    relationship = models.ForeignKey(
        Relationship,
        on_delete=models.PROTECT,
        related_name="letters",
        verbose_name=_("家庭共济关系"),
    )
    authorizations = models.ManyToManyField(
        Authorization, related_name="letters", verbose_name=_("涉及的共济授权")
    )
    signed_at = models.DateTimeField(_("签署时间"))
    channel = models.CharField(_("办理渠道"), max_length=10, choices=Channel)
    signed_name = models.CharField(_("签名（姓名）"), max_length=50)
    signature_image = models.TextField(
        _("手写签名图像"), blank=True, default="", help_text=_("PNG 图像的 data URL")
    )
    signed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("办理账号")
    )

    class Meta:
        ordering = ["-signed_at", "-id"]
        verbose_name = _("承诺书")
        verbose_name_plural = _("承诺书")
        constraints = [
            models.CheckConstraint(
                condition=Q(content_hash__regex=r"^[0-9a-f]{64}$"), name="letter_hash_shape"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.verification_code}"

    @staticmethod
    def hash_text(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def text_intact(self) -> bool:
        return self.hash_text(self.text) == self.content_hash


class GuardianshipQuerySet(models.QuerySet):
    def valid_on(self, day) -> GuardianshipQuerySet:
        """Guardianships in force on `day` (a local date; both ends inclusive)."""
        return self.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=day), valid_from__lte=day
        )


class Guardianship(models.Model):
    """R22: a guardian acts for a member without legal capacity (a minor, an incapacitated
    adult). Recorded by the bureau from documents; a parent who holds a child's authorization acts
    for the minor child without a row here."""

    class Basis(models.TextChoices):
        PARENT = "parent", _("父母（未成年子女）")
        COURT = "court", _("法院指定或认定")
        AGREEMENT = "agreement", _("协议或遗嘱指定")

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    guardian = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        related_name="wards",
        verbose_name=_("监护人"),
    )
    ward = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        related_name="guardians",
        verbose_name=_("被监护人"),
    )
    basis = models.CharField(_("监护依据"), max_length=12, choices=Basis)
    document = models.CharField(_("证明材料"), max_length=200)
    valid_from = models.DateField(_("有效期起"))
    valid_until = models.DateField(_("有效期止"), null=True, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    objects = GuardianshipQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("监护关系")
        verbose_name_plural = _("监护关系")
        constraints = [
            models.CheckConstraint(condition=~Q(guardian=F("ward")), name="guardianship_not_self"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                name="guardianship_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.guardian.name} 监护 {self.ward.name}"


# ---------------------------------------------------------------------------------------------
# Counter binding (issue 6, R18): staff bind members on the holder's behalf after checking the
# documents, print the letter for a wet signature and keep its scan; some bindings wait for a
# supervisor. The relationship itself is made by `services.relationship_bind` when it takes effect.


class PrivateScanStorage(FileSystemStorage):
    """Scans of signed letters: outside MEDIA_ROOT (settings.COUNTER_SCAN_ROOT), owner-only file
    modes, and no URL at all: staff download them through a region-scoped view."""

    def __init__(self):
        super().__init__(file_permissions_mode=0o600, directory_permissions_mode=0o700)

    @property
    def base_location(self):
        # Read at each use (not cached) so that tests may point it at a temporary directory.
        return settings.COUNTER_SCAN_ROOT

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("counter scans are never served by URL")


def counter_scan_storage() -> PrivateScanStorage:
    return PrivateScanStorage()


def counter_scan_path(instance: CounterBinding, filename: str) -> str:
    """A random name; the extension comes from the checked content type, never from the user."""
    extension = CounterBinding.SCAN_EXTENSIONS.get(instance.scan_content_type, "")
    return f"{timezone.localdate():%Y/%m}/{uuid.uuid4().hex}{extension}"


class CounterBinding(models.Model):
    """柜台绑定: one counter visit that binds members for a holder, step by step."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("待核验材料")
        LETTER_PRINTED = "letter_printed", _("待上传签字件")
        PENDING_REVIEW = "pending_review", _("待审核")
        DONE = "done", _("已生效")
        REJECTED = "rejected", _("已驳回")
        CANCELLED = "cancelled", _("已作废")

    class Card(models.TextChoices):
        """An identity document of one person (holder or member)."""

        ID_CARD = "id_card", _("居民身份证")
        SS_CARD = "ss_card", _("社会保障卡")

    OPEN_STATUSES = (Status.DRAFT, Status.LETTER_PRINTED, Status.PENDING_REVIEW)
    EDITABLE_STATUSES = (Status.DRAFT, Status.LETTER_PRINTED)
    SCAN_EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    holder = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        related_name="counter_bindings",
        verbose_name=_("主账户人"),
    )
    # The holder's region when started: what staff scope filters on.
    region = models.ForeignKey(
        "accounts.RegionPolicy",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("统筹区"),
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status, default=Status.DRAFT)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("经办人")
    )
    created_at = models.DateTimeField(_("办理时间"), default=timezone.now)
    # {"holder": ["id_card"], "members": {"<person public_id>": ["ss_card"]}, "proofs": [...]}
    documents_seen = models.JSONField(_("已查验材料"), default=dict, blank=True)
    letter_kind = models.CharField(
        _("承诺书类型"), max_length=24, choices=CommitmentLetter.Kind, blank=True, default=""
    )
    letter_version = models.CharField(_("文本版本"), max_length=40, blank=True, default="")
    letter_text = models.TextField(_("打印的承诺书全文"), blank=True, default="")
    letter_hash = models.CharField(
        _("打印文本摘要（SHA-256）"), max_length=64, blank=True, default=""
    )
    letter_printed_at = models.DateTimeField(_("打印时间"), null=True, blank=True)
    scan = models.FileField(
        _("签字件扫描件"),
        storage=counter_scan_storage,
        upload_to=counter_scan_path,
        max_length=200,
        blank=True,
        default="",
    )
    scan_sha256 = models.CharField(
        _("扫描件摘要（SHA-256）"), max_length=64, blank=True, default=""
    )
    scan_content_type = models.CharField(_("扫描件类型"), max_length=40, blank=True, default="")
    scan_size = models.PositiveIntegerField(_("扫描件大小（字节）"), null=True, blank=True)
    scan_uploaded_at = models.DateTimeField(_("上传时间"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    needs_review = models.BooleanField(_("须审核"), default=False)
    review_reasons = models.JSONField(_("审核原因"), default=list, blank=True)
    reviewed_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("审核人"),
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    review_note = models.CharField(_("审核意见"), max_length=500, blank=True, default="")
    letter = models.OneToOneField(
        CommitmentLetter,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="counter_binding",
        verbose_name=_("生效的承诺书"),
    )
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("柜台绑定")
        verbose_name_plural = _("柜台绑定")
        permissions = [("review_counterbinding", _("审核柜台绑定"))]
        constraints = [
            # One open counter binding per holder: a double "start" finds the open one.
            models.UniqueConstraint(
                fields=["holder"],
                condition=Q(status__in=["draft", "letter_printed", "pending_review"]),
                name="counterbinding_one_open_per_holder",
            ),
            # Four eyes: a reviewer is never the clerk who made the binding.
            models.CheckConstraint(
                condition=Q(reviewed_by__isnull=True) | ~Q(reviewed_by=F("created_by")),
                name="counterbinding_reviewer_not_creator",
            ),
            models.CheckConstraint(
                condition=Q(reviewed_by__isnull=True, reviewed_at__isnull=True)
                | Q(reviewed_by__isnull=False, reviewed_at__isnull=False),
                name="counterbinding_review_fields_together",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected")
                | (Q(reviewed_by__isnull=False) & ~Q(review_note="")),
                name="counterbinding_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["letter_printed", "pending_review", "done", "rejected"])
                | Q(letter_hash__regex=r"^[0-9a-f]{64}$"),
                name="counterbinding_printed_letter_hash",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["pending_review", "done", "rejected"])
                | (~Q(scan="") & Q(scan_sha256__regex=r"^[0-9a-f]{64}$") & Q(scan_size__gt=0)),
                name="counterbinding_submitted_has_scan",
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(letter__isnull=False),
                name="counterbinding_done_has_letter",
            ),
            models.CheckConstraint(
                condition=~Q(status="pending_review") | Q(needs_review=True),
                name="counterbinding_review_only_when_needed",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "letter_printed", "pending_review"])
                | Q(closed_at__isnull=False),
                name="counterbinding_closed_at_when_closed",
            ),
        ]
        indexes = [models.Index(fields=["status", "region"])]

    def __str__(self) -> str:
        return f"{self.holder.name}的柜台绑定（{self.get_status_display()}）"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE_STATUSES


class CounterBindingMember(models.Model):
    """One member of a counter binding. The window starts when the binding takes effect (the
    letter says "from signing"); `window_end` None is an open end."""

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    binding = models.ForeignKey(
        CounterBinding,
        on_delete=models.CASCADE,
        related_name="members",
        verbose_name=_("柜台绑定"),
    )
    person = models.ForeignKey(
        InsuredPerson, on_delete=models.PROTECT, related_name="+", verbose_name=_("家庭成员")
    )
    relation = models.CharField(_("与主账户人关系"), max_length=24, choices=Relation)
    window_end = models.DateTimeField(
        _("授权结束时间"), null=True, blank=True, help_text=_("留空表示长期有效，直至解除")
    )
    added_at = models.DateTimeField(_("添加时间"), default=timezone.now)

    class Meta:
        ordering = ["added_at", "id"]
        verbose_name = _("柜台绑定成员")
        verbose_name_plural = _("柜台绑定成员")
        constraints = [
            models.UniqueConstraint(
                fields=["binding", "person"], name="counterbindingmember_once_per_binding"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person.name}（{self.get_relation_display()}）"
