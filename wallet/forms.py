"""Forms of the wallet pages (R23): the two confirmations of the open page and the close
button, and their counter versions (R18), where the clerk also ticks the cards they saw. The
services own the rules; a refusal is placed by its code (`FIELD_ERRORS`, `COUNTER_FIELD_ERRORS`)."""

from __future__ import annotations

from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout
from django import forms
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from family.models import CounterBinding

from .errors import WALLET_PHONE_NOT_CONFIRMED, WALLET_PLACE_NOT_CONFIRMED

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
