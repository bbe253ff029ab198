"""Forms of the wallet pages (R23-R25): the two confirmations of the open page, the close
button, the two steps of a transfer, the recipient's answer and the lists' filters, and the
counter versions of open and close (R18), where the clerk also ticks the cards they saw. They
parse input; the services own the rules, and a refusal is placed by its code (`FIELD_ERRORS`,
`TRANSFER_FIELD_ERRORS`, `COUNTER_FIELD_ERRORS`)."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from family.forms.binding import RELATION_PLACEHOLDER, RelativeIdNumberField
from family.forms.member import DateRangeFilterForm
from family.models import CounterBinding, Relation

from .errors import (
    TRANSFER_AMOUNT_INVALID,
    TRANSFER_AMOUNT_TOO_LARGE,
    WALLET_PHONE_NOT_CONFIRMED,
    WALLET_PLACE_NOT_CONFIRMED,
)
from .models import TRANSFER_MAX, Entry, Transfer
from .rules import amount_refusal
from .selectors.transfers import RECEIVED, SENT

ANSWER_MISSING = _("请选择接收或拒收")

# code of a service refusal -> the field it is shown at (others go above the form)
FIELD_ERRORS = {
    "wallet_place_not_confirmed": "confirm_place",
    "wallet_phone_not_confirmed": "confirm_phone",
}
COUNTER_FIELD_ERRORS = {
    **FIELD_ERRORS,
    "wallet_docs_missing": "documents_seen",
    "wallet_docs_invalid": "documents_seen",
}


def _buttons(label, css_class: str, back_url: str) -> Div:
    back = HTML(
        format_html(
            '<a class="btn btn-outline-secondary btn-lg" href="{}">{}</a>', back_url, _("返回")
        )
    )
    return Div(
        StrictButton(label, type="submit", css_class=f"{css_class} btn-lg"),
        back,
        css_class="d-grid d-sm-flex gap-2 mt-3",
    )


class WalletOpenForm(forms.Form):
    """确认使用钱包: the person ticks that the insured place and the masked phone are theirs."""

    confirm_place = forms.BooleanField(
        error_messages={"required": WALLET_PLACE_NOT_CONFIRMED},
    )
    confirm_phone = forms.BooleanField(
        error_messages={"required": WALLET_PHONE_NOT_CONFIRMED},
    )

    def __init__(self, *args, place: str, phone: str, back_url: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["confirm_place"].label = _("我确认参保地为%(place)s") % {"place": place}
        self.fields["confirm_phone"].label = _("我确认手机号码为%(phone)s") % {"phone": phone}
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            Field("confirm_place", css_class="form-check-input-lg"),
            Field("confirm_phone", css_class="form-check-input-lg"),
            _buttons(_("确认使用钱包"), "btn-primary", back_url),
        )


class WalletCloseForm(forms.Form):
    """Nothing to fill in: the button is the confirmation."""

    def __init__(self, *args, back_url: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(_buttons(_("确认关闭钱包"), "btn-danger", back_url))


# ---------------------------------------------------------------------------------------------
# transfers (R24, R25) and the history's filter


# code of a transfer refusal -> the field it is shown at (others go above the form)
TRANSFER_FIELD_ERRORS = {
    "transfer_recipient_not_found": "id_number",
    "transfer_to_self": "id_number",
    "transfer_wallet_not_open": "id_number",
    "transfer_invalid_relation": "relation",
    "transfer_amount_format": "amount",
    "transfer_amount_not_positive": "amount",
    "transfer_amount_too_large": "amount",
    "transfer_above_available": "amount",
    "transfer_verification_failed": "password",
}
CHECK, CONFIRM, EDIT = "check", "confirm", "edit"
ACCEPT, DECLINE = "accept", "decline"
ALL = _("全部")
# ASCII digits only (as `wallet.rules` takes text): \d would also match "５００" and "٥٠٠",
# which Decimal() reads as 500 although the service refuses them as malformed.
_AMOUNT = re.compile(r"^-?[0-9]{1,20}(?:\.[0-9]{1,20})?$")
_LONG_AMOUNT = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")


class AmountField(forms.CharField):
    """An amount in yuan as typed: ASCII digits with an optional fraction, parsed with Decimal.
    Anything else, a value past 2,000.00 (however long) or more than two decimal places is a
    field error in plain words, never a rounding and never a server error."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        if not _AMOUNT.match(text):
            if _LONG_AMOUNT.match(text) and not text.startswith("-"):
                raise ValidationError(TRANSFER_AMOUNT_TOO_LARGE, code="transfer_amount_too_large")
            raise ValidationError(TRANSFER_AMOUNT_INVALID, code="transfer_amount_invalid")
        amount = Decimal(text)
        if amount > TRANSFER_MAX:
            raise ValidationError(TRANSFER_AMOUNT_TOO_LARGE, code="transfer_amount_too_large")
        refusal = amount_refusal(amount)
        if refusal is not None:
            raise refusal
        return amount


class TransferSendForm(forms.Form):
    """医保钱包转账申请, step 1: whom, how much. The hidden idempotency key is made when the page
    is first shown and carried through both steps, so a double submit makes one transfer."""

    relation = forms.ChoiceField(
        label=_("对方是您的"),
        choices=[("", RELATION_PLACEHOLDER), *Relation.choices],
        help_text=_("只能转给配偶、父母、子女等近亲属"),
    )
    name = forms.CharField(
        label=_("对方姓名"), max_length=50, help_text=_("须与对方身份证上的姓名一致")
    )
    id_number = RelativeIdNumberField(label=_("对方身份证号码"))
    amount = AmountField(label=_("转账金额（元）"), help_text=_("每笔最多2000.00元，最多两位小数"))
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, back_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound and not _is_uuid(self.data.get("idempotency_key")):
            # A page always carries its key; a request without one gets a fresh key here (the
            # one-pending constraint still stops a second transfer while the first waits).
            self.data = self.data.copy()
            self.data["idempotency_key"] = str(uuid.uuid4())
        self.fields["name"].widget.attrs.update({"autocomplete": "off"})
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = self.layout(back_url)

    def layout(self, back_url: str) -> Layout:
        return Layout(
            Field("relation", css_class="form-select-lg"),
            Field("name", css_class="form-control-lg"),
            Field("id_number", css_class="form-control-lg"),
            Field("amount", css_class="form-control-lg"),
            Field("idempotency_key"),
            Div(
                StrictButton(
                    _("下一步：核对信息"),
                    type="submit",
                    name="step",
                    value=CHECK,
                    css_class="btn-primary btn-lg",
                ),
                HTML(
                    format_html(
                        '<a class="btn btn-outline-secondary btn-lg" href="{}">{}</a>',
                        back_url,
                        _("返回"),
                    )
                ),
                css_class="d-grid d-sm-flex gap-2 mt-3",
            ),
        )

    @property
    def values(self) -> dict:
        """What step 2 carries again, as the hidden fields show it."""
        data = self.cleaned_data
        return {
            "relation": data["relation"],
            "name": data["name"],
            "id_number": data["id_number"],
            "amount": f"{data['amount']:.2f}",
            "idempotency_key": str(data["idempotency_key"]),
        }


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class TransferConfirmForm(TransferSendForm):
    """Step 2: the same values again (hidden) and the sender's password, which the service
    checks (`family.verification`, counted by `accounts.reauth` in the view)."""

    password = forms.CharField(
        label=_("登录密码"),
        strip=False,
        help_text=_("为确认是您本人操作，请再次输入您登录本系统的密码"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, amount_label: str = "", **kwargs):
        self.amount_label = amount_label
        super().__init__(*args, **kwargs)
        for name in ("relation", "name", "id_number", "amount"):
            self.fields[name].widget = forms.HiddenInput()

    def layout(self, back_url: str) -> Layout:
        return Layout(
            *(Field(name) for name in ("relation", "name", "id_number", "amount")),
            Field("idempotency_key"),
            Field("password", css_class="form-control-lg"),
            Div(
                StrictButton(
                    _("确认转出%(amount)s元") % {"amount": self.amount_label},
                    type="submit",
                    name="step",
                    value=CONFIRM,
                    css_class="btn-primary btn-lg",
                ),
                StrictButton(
                    _("返回修改"),
                    type="submit",
                    name="step",
                    value=EDIT,
                    formnovalidate="formnovalidate",
                    css_class="btn-outline-secondary btn-lg",
                ),
                css_class="d-grid d-sm-flex gap-2 mt-3",
            ),
        )


class TransferAnswerForm(forms.Form):
    """R25: the recipient's answer comes from the button pressed; each button says what it does."""

    answer = forms.ChoiceField(choices=[(ACCEPT, ACCEPT), (DECLINE, DECLINE)])

    def __init__(self, *args, amount_label: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["answer"].error_messages["required"] = ANSWER_MISSING
        self.fields["answer"].error_messages["invalid_choice"] = ANSWER_MISSING
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_show_errors = False  # the page says it above the buttons
        self.helper.layout = Layout(
            Div(
                StrictButton(
                    _("接收%(amount)s元，存入我的医保钱包") % {"amount": amount_label},
                    type="submit",
                    name="answer",
                    value=ACCEPT,
                    css_class="btn-primary btn-lg flex-fill",
                ),
                StrictButton(
                    _("拒收，退回对方个人账户"),
                    type="submit",
                    name="answer",
                    value=DECLINE,
                    css_class="btn-outline-danger btn-lg flex-fill",
                ),
                css_class="d-flex flex-column flex-sm-row gap-2",
            ),
        )

    @property
    def accept(self) -> bool:
        return self.cleaned_data["answer"] == ACCEPT


class _GetFilterForm(forms.Form):
    """A GET filter laid out as one row of `columns` and a 查询 button (as the statement's)."""

    columns: tuple[tuple[str, str], ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Div(*(Div(name, css_class=css) for name, css in self.columns), css_class="row g-2"),
            Div(
                StrictButton(_("查询"), type="submit", css_class="btn-primary"),
                css_class="d-grid d-sm-flex gap-2 mt-2",
            ),
        )


class TransferFilterForm(_GetFilterForm):
    """The transfers list: sent or received, and one status; empty lists every transfer."""

    direction = forms.ChoiceField(
        label=_("方向"),
        required=False,
        choices=[("", ALL), (SENT, _("我转出的")), (RECEIVED, _("转给我的"))],
    )
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", ALL), *Transfer.Status.choices]
    )
    columns = (("direction", "col-6"), ("status", "col-6"))

    @property
    def filters(self) -> dict:
        data = self.cleaned_data if self.is_bound else {}
        return {"direction": data.get("direction") or None, "status": data.get("status") or None}

    @property
    def filtered(self) -> bool:
        return any(self.filters.values())


class EntryFilterForm(DateRangeFilterForm):
    """The wallet's history: one kind, a date range; empty lists every entry."""

    kind = forms.ChoiceField(
        label=_("类别"), required=False, choices=[("", ALL), *Entry.Kind.choices]
    )
    columns = (
        ("kind", "col-12 col-md-4"),
        ("date_from", "col-6 col-md-4"),
        ("date_to", "col-6 col-md-4"),
    )

    @property
    def filters(self) -> dict:
        data = self.cleaned_data if self.is_bound else {}
        return {
            "kind": data.get("kind") or None,
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }

    @property
    def filtered(self) -> bool:
        return any(self.filters.values())


def _documents_field() -> forms.MultipleChoiceField:
    """R18: the cards of the person the clerk saw. Not required here: the service says so."""
    return forms.MultipleChoiceField(
        label=_("查验的证件"),
        choices=CounterBinding.Card.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("参保人本人的证件，至少一种；记入审计记录"),
    )


class CounterWalletOpenForm(forms.Form):
    """确认使用钱包 at the counter (R18, R23): the cards seen, and the insured place and masked
    phone confirmed with the person."""

    documents_seen = _documents_field()
    confirm_place = forms.BooleanField(error_messages={"required": WALLET_PLACE_NOT_CONFIRMED})
    confirm_phone = forms.BooleanField(error_messages={"required": WALLET_PHONE_NOT_CONFIRMED})

    def __init__(self, *args, place: str, phone: str, back_url: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["confirm_place"].label = _("已与参保人核对参保地为%(place)s") % {"place": place}
        self.fields["confirm_phone"].label = _("已与参保人核对手机号码为%(phone)s") % {
            "phone": phone
        }
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            "documents_seen",
            Field("confirm_place", css_class="form-check-input-lg"),
            Field("confirm_phone", css_class="form-check-input-lg"),
            _buttons(_("确认开通钱包"), "btn-primary", back_url),
        )


class CounterWalletCloseForm(forms.Form):
    """Closing at the counter (R18, R23): the cards seen are the confirmation."""

    documents_seen = _documents_field()

    def __init__(self, *args, back_url: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            "documents_seen", _buttons(_("确认关闭钱包"), "btn-danger", back_url)
        )
