"""个账代缴 (R16): a member's yearly resident premium paid from holders' personal accounts.

One durable transaction: lock the paying accounts (ascending ids), run every check of
`selectors.premium_check` again under the locks, then write the ledger movement (personal
accounts debited, the region's premium receivable credited), the payment with one line per paying
holder and the authorization it went through, and the audit entry.

Once per member and year, whatever the double clicks, retries or concurrent requests: the
confirm page carries an idempotency key (a uuid4 made when the check page was shown) that becomes
the ledger transaction's unique key `premium:<key>`, so a replay finds the first payment; and the
database's unique (member, year) refuses a second payment made with another key.

The member is told once (issue 5 point 5; key `premium:<public_id>:paid`, written in the payment's
transaction, so a replay, which returns before paying, tells nobody again). The notice names the
holders whose accounts paid, in payment order: for 个人共济 the one payer; for 家庭共济 every
holder whose account paid a line (the text says the premium was paid "from their accounts", which
is then literally true), not the holder who only clicked. The amount is the whole premium."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import notices
from accounts.models import AuditEntry, InsuredPerson, Notification, ResidentPremium, User
from accounts.services import Notice, audit_record, notifications_send
from family import selectors as family_selectors

from ..models import LedgerAccount, LedgerTransaction, PremiumPayment, PremiumPaymentLine
from ..selectors.premium import (
    ALREADY_PAID,
    premium_check,
    premium_ledger_key,
    premium_payers,
)
from . import ledger

PayType = PremiumPayment.PayType

BAD_PAY_TYPE = _("请选择代缴方式：个人共济或家庭共济")
COMMITMENT_REQUIRED = _("请先阅读并确认代缴承诺书")
IDEMPOTENCY_CONFLICT = _("该缴费请求已用于其他缴费，请返回重新校验")
ACCOUNTS_CHANGED = _("扣款账户在校验时发生变化，请返回重新校验")

COMMITMENT_VERSION = "premium-commitment-v1"


def premium_commitment_text(
    *, holder: InsuredPerson, member: InsuredPerson, premium: ResidentPremium, pay_type: str
) -> str:
    """代缴承诺书 as shown before the check page; its SHA-256 and version go into the audit."""
    pay_label = str(PayType(pay_type).label)
    how = (
        _("仅从本人职工医保个人账户扣款")
        if pay_type == PayType.PERSONAL
        else _("按被代缴人设定的扣款顺序，从为其授权的各主账户人的职工医保个人账户依次扣款")
    )
    lines = [
        str(_("代缴承诺书")),
        "",
        str(
            _(
                "本人%(holder)s（身份证号码%(holder_id)s）通过职工医保个人账户家庭共济，"
                "为家庭成员%(member)s（身份证号码%(member_id)s）代缴%(region)s%(year)s年度"
                "城乡居民基本医疗保险个人缴费%(amount)s元，代缴方式为%(pay_type)s（%(how)s）。"
            )
            % {
                "holder": holder.name,
                "holder_id": holder.masked_id_number,
                "member": member.name,
                "member_id": member.masked_id_number,
                "region": premium.region.name,
                "year": premium.year,
                "amount": f"{premium.amount:.2f}",
                "pay_type": pay_label,
                "how": how,
            }
        ),
        str(_("本人郑重承诺：")),
        str(_("一、本人填报和确认的身份信息、家庭关系及代缴信息真实、准确、完整。")),
        str(
            _(
                "二、本人自愿使用职工医保个人账户资金代缴上述保费；如提供虚假信息或以欺诈、"
                "伪造证明材料等手段使用个人账户资金，本人依法承担相应的法律责任，"
                "并退回违规使用的资金。"
            )
        ),
        str(
            _(
                "三、同一参保人同一年度只能缴费一次。本人确认未通过其他渠道（如税务缴费APP、"
                "微信或支付宝缴费小程序、银行代扣、社区代收等）为其缴纳%(year)s年度保费，"
                "并将不再通过其他渠道重复缴纳；因重复缴费产生的退费，须向原缴费渠道申请。"
            )
            % {"year": premium.year}
        ),
        str(
            _(
                "四、本人知晓：在集中缴费期（%(start)s至%(end)s）之后缴费的，"
                "须经过%(months)s个月待遇等待期后方可享受医保待遇。"
            )
            % {
                "start": premium.collection_start.isoformat(),
                "end": premium.collection_end.isoformat(),
                "months": premium.waiting_months,
            }
        ),
    ]
    if pay_type == PayType.FAMILY:
        lines.append(
            str(_("五、本人已告知将要扣款的其他主账户人，本次代缴将按扣款顺序使用其个人账户。"))
        )
    return "\n".join(lines)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _replay(*, key: str, member: InsuredPerson, year: int, actor: User) -> PremiumPayment | None:
    found = (
        PremiumPayment.objects.filter(ledger_transaction__idempotency_key=key)
        .select_related("member")
        .first()
    )
    if found is None:
        return None
    if found.member_id != member.pk or found.year != year or found.paid_by_id != actor.pk:
        raise ValidationError(IDEMPOTENCY_CONFLICT, code="idempotency_conflict")
    return found


def premium_pay(
    *,
    holder: InsuredPerson,
    member: InsuredPerson,
    year: int,
    pay_type: str,
    idempotency_key: str,
    commitment_agreed: bool,
    actor: User,
    channel: str = AuditEntry.Channel.ONLINE,
    at: dt.datetime | None = None,
) -> tuple[PremiumPayment, bool]:
    """Pay the member's premium of `year`; returns (payment, created). A replay of the same key
    returns the first payment with created=False. Refusals raise ValidationError with one error
    per failed check (codes: binding, enrolment, balance, not_paid → "already_paid", timing,
    premium) and change nothing."""
    if pay_type not in PremiumPayment.HOLDER_PAY_TYPES:
        raise ValidationError(BAD_PAY_TYPE, code="pay_type")
    if not commitment_agreed:
        raise ValidationError(COMMITMENT_REQUIRED, code="commitment")
    key = premium_ledger_key(idempotency_key)
    if (found := _replay(key=key, member=member, year=year, actor=actor)) is not None:
        return found, False
    try:
        with transaction.atomic(durable=True):
            payment = _pay(
                holder=holder,
                member=member,
                year=year,
                pay_type=pay_type,
                key=key,
                actor=actor,
                channel=channel,
                at=at or timezone.now(),
            )
    except (ValidationError, IntegrityError) as exc:
        # A request with this key committed first (it held the locks we waited for, or its
        # ledger key was inserted at the same instant): that payment is the answer.
        if (found := _replay(key=key, member=member, year=year, actor=actor)) is not None:
            return found, False
        if isinstance(exc, IntegrityError):
            # Another key paid this member and year at the same instant (unique member, year).
            existing = PremiumPayment.objects.filter(member=member, year=year).first()
            if existing is None:
                raise
            date = timezone.localdate(existing.paid_at).isoformat()
            raise ValidationError(
                ALREADY_PAID % {"member": member.name, "year": year, "date": date},
                code="already_paid",
            ) from exc
        raise
    return payment, True


def _pay(*, holder, member, year, pay_type, key, actor, channel, at) -> PremiumPayment:
    # Share-locked until commit, like a settlement (issue 13 point 4): the member, the holders
    # and their authorizations; premium_check reads them again under these locks.
    usable = family_selectors.authorizations_lock_usable_for(member=member, at=at)
    # Fresh rows: every check runs on what is true now, not on what the page read.
    people = InsuredPerson.objects.select_related("region").in_bulk([holder.pk, member.pk])
    holder, member = people[holder.pk], people[member.pk]
    payers = premium_payers(holder=holder, member=member, pay_type=pay_type, usable=usable)
    paying = {a.holder.pk: a.holder for a in payers}
    if pay_type == PayType.PERSONAL and holder.is_employee:
        paying[holder.pk] = holder  # judged even when the binding is not usable (its own check)
    account_ids = [ledger.personal_account_for(person).pk for person in paying.values()]
    locked = ledger.accounts_lock(account_ids)
    by_person = {account.person_id: account for account in locked.values()}

    result = premium_check(
        holder=holder, member=member, year=year, pay_type=pay_type, at=at, accounts=by_person
    )
    if not result.passed:
        raise ValidationError(
            [
                ValidationError(
                    check.message, code="already_paid" if check.code == "not_paid" else check.code
                )
                for check in result.failures
            ]
        )
    debits = [(line.account, -line.amount) for line in result.lines if line.account is not None]
    if len(debits) != len(result.lines):
        raise ValidationError(ACCOUNTS_CHANGED, code="changed")  # a holder bound meanwhile

    premium = result.premium
    # result.passed: a premium was found and the timing check set the benefit period
    assert premium is not None
    assert result.benefit_start is not None and result.benefit_end is not None
    receivable = ledger.bureau_account(LedgerAccount.Kind.PREMIUM_RECEIVABLE, member.region_id)
    entry = ledger.transaction_post(
        kind=LedgerTransaction.Kind.PREMIUM,
        description=f"代缴{member.name}{year}年度城乡居民医保保费",
        occurred_at=at,
        idempotency_key=key,
        legs=[
            *debits,
            (receivable, premium.amount),
        ],
    )
    payment = PremiumPayment.objects.create(
        member=member,
        premium=premium,
        year=year,
        pay_type=pay_type,
        amount=premium.amount,
        late=result.late,
        benefit_start=result.benefit_start,
        benefit_end=result.benefit_end,
        paid_at=at,
        paid_by=actor,
        ledger_transaction=entry,
    )
    PremiumPaymentLine.objects.bulk_create(
        [
            PremiumPaymentLine(
                payment=payment,
                position=position,
                account=line.account,
                payer=line.holder,
                authorization=line.authorization,
                amount=line.amount,
            )
            for position, line in enumerate(result.lines, start=1)
        ]
    )
    text = premium_commitment_text(holder=holder, member=member, premium=premium, pay_type=pay_type)
    audit_record(
        actor=actor,
        channel=channel,
        action="premium.pay",
        obj=payment,
        person=member,
        after={
            "year": year,
            "amount": f"{premium.amount:.2f}",
            "pay_type": pay_type,
            "late": result.late,
            "waiting_months": premium.waiting_months if result.late else 0,
            "benefit_start": result.benefit_start.isoformat(),
            "benefit_end": result.benefit_end.isoformat(),
            "holder": holder.masked_name,
            "lines": [
                {
                    "payer": line.holder.masked_name,
                    "amount": f"{line.amount:.2f}",
                    "authorization": str(line.authorization.public_id),
                }
                for line in result.lines
            ],
            "commitment": {"version": COMMITMENT_VERSION, "sha256": _hash(text)},
        },
    )
    notifications_send(notices=[_paid_notice(payment, result.lines)], at=at)
    return payment


def _paid_notice(payment: PremiumPayment, lines) -> Notice:
    payers = list(dict.fromkeys(line.holder.masked_name for line in lines))
    return Notice(
        recipient_id=payment.member_id,
        kind=Notification.Kind.PREMIUM_PAID,
        key=f"premium:{payment.public_id}:paid",
        params={
            "role": notices.MEMBER,
            "holder": "、".join(payers),
            "year": payment.year,
            "amount": f"{payment.amount:.2f}",
        },
        # The member may open the receipt (selectors.premium_get_for_user).
        link=reverse("payments:premium-detail", args=[payment.public_id]),
    )
