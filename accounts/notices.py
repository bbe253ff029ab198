"""The words of each notification (站内信), rendered when read, in the reader's language.

A notification stores its kind, the recipient's role and plain parameters (masked names, amounts,
ISO times, and source-language labels such as a relation). Storing words would freeze them in one
language; storing parameters lets the inbox show English to an English reader."""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import Notification

Kind = Notification.Kind

HOLDER = "holder"
MEMBER = "member"
GUARDIAN = "guardian"

# (kind, role) -> body. Parameters: holder, member (masked names), relation, start, end, deadline
# (ISO times), reason, amount, year, institution.
BODIES = {
    (Kind.CONSENT_REQUESTED, MEMBER): _(
        "%(holder)s申请将您绑定为其职工医保个人账户的家庭共济成员（关系：%(relation)s）。"
        "请在%(deadline)s前登录本平台同意或拒绝，逾期未答复该请求将失效。"
    ),
    (Kind.CONSENT_REQUESTED, GUARDIAN): _(
        "%(holder)s申请将您监护的%(member)s绑定为其职工医保个人账户的家庭共济成员"
        "（关系：%(relation)s）。请在%(deadline)s前登录本平台代为同意或拒绝。"
    ),
    (Kind.STARTED, HOLDER): _(
        "您为%(member)s（%(relation)s）设立的共济授权已于%(start)s开始生效，"
        "其医疗费用可按扣款顺序从您的个人账户支付。"
    ),
    (Kind.STARTED, MEMBER): _(
        "%(holder)s为您设立的共济授权已于%(start)s开始生效，"
        "您的医疗费用可按扣款顺序从其个人账户支付。"
    ),
    (Kind.EXPIRING, HOLDER): _(
        "您为%(member)s（%(relation)s）设立的共济授权将于%(end)s到期。"
        "如需继续共济，请在到期前变更授权期限并重新签署承诺书。"
    ),
    (Kind.EXPIRING, MEMBER): _(
        "%(holder)s为您设立的共济授权将于%(end)s到期，到期后不能再使用其个人账户。"
    ),
    (Kind.EXPIRED, HOLDER): _(
        "您为%(member)s（%(relation)s）设立的共济授权已于%(end)s到期，不能再使用您的个人账户。"
    ),
    (Kind.EXPIRED, MEMBER): _(
        "%(holder)s为您设立的共济授权已于%(end)s到期，您不能再使用其个人账户。"
    ),
    (Kind.ENDED, HOLDER): _("您与%(member)s（%(relation)s）的共济授权已终止：%(reason)s。"),
    (Kind.ENDED, MEMBER): _("%(holder)s为您设立的共济授权已终止：%(reason)s。"),
    (Kind.PREMIUM_PAID, MEMBER): _(
        "%(holder)s已从其职工医保个人账户为您代缴%(year)s年度城乡居民医保费，共%(amount)s元。"
    ),
    (Kind.SETTLEMENT_PAID, HOLDER): _(
        "您的个人账户于%(at)s在%(institution)s为%(member)s支付医疗费用%(amount)s元（家庭共济）。"
    ),
    # R25: the recipient is asked; the sender is told how it ended (both sides when it returns)
    (Kind.TRANSFER_RECEIVED, MEMBER): _(
        "%(holder)s从其职工医保个人账户向您的医保钱包转账%(amount)s元。"
        "请在%(deadline)s前登录本平台接收或拒收，逾期未接收将退回对方个人账户。"
    ),
    (Kind.TRANSFER_ACCEPTED, HOLDER): _("%(member)s已接收您于%(at)s转入其医保钱包的%(amount)s元。"),
    (Kind.TRANSFER_DECLINED, HOLDER): _(
        "%(member)s拒收了您于%(at)s转入其医保钱包的%(amount)s元，款项已退回您的个人账户。"
    ),
    (Kind.TRANSFER_RETURNED, HOLDER): _(
        "您于%(at)s转给%(member)s医保钱包的%(amount)s元未在%(deadline)s前接收，已退回您的个人账户。"
    ),
    (Kind.TRANSFER_RETURNED, MEMBER): _(
        "%(holder)s于%(at)s转入您医保钱包的%(amount)s元未在%(deadline)s前接收，已退回对方。"
    ),
}

# Parameters that hold a source-language label, translated when shown.
LABEL_PARAMS = ("relation", "reason")
TIME_PARAMS = ("start", "end", "deadline", "at")


def iso(value: dt.datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _show_time(value: str) -> str:
    if not value:
        return gettext("长期")
    parsed = parse_datetime(value)
    if parsed is None:
        return value
    return formats.date_format(timezone.localtime(parsed), "Y-m-d H:i:s")


def render(notification: Notification) -> tuple[str, str]:
    """(title, body) in the active language."""
    params = dict(notification.params)
    role = params.pop("role", MEMBER)
    for name in LABEL_PARAMS:
        if name in params:
            params[name] = gettext(params[name])
    for name in TIME_PARAMS:
        if name in params:
            params[name] = _show_time(params[name])
    title = str(Kind(notification.kind).label)
    body = BODIES.get((notification.kind, role))
    if body is None:
        return title, ""
    try:
        return title, str(body) % params
    except (KeyError, TypeError, ValueError):  # a parameter missing from an old row
        return title, ""
