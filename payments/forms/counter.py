"""Forms of 窗口个账代缴 (issue 6, R16, R18): staff pick the holder, the year and the pay type,
run the same 代缴信息校验 as the citizen pages (`selectors.premium_check`), and confirm with the
idempotency key made when the check page was shown. They only parse input: every rule of the
payment is the selector's, run again by `services.premium_pay`."""

from __future__ import annotations

from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Layout
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import ResidentPremium
from family.models import Authorization

from ..models import PremiumPayment
from .premium import pay_type_field, year_choices, year_field

PayType = PremiumPayment.PayType

HOLDER_REQUIRED = _("请选择办理代缴的主账户人")
# Said to the clerk, not to the holder (the citizen pages say 您本人).
COUNTER_PAY_TYPE_HELP = {
    PayType.PERSONAL: _("个人共济：仅从所选主账户人的职工医保个人账户扣款"),
    PayType.FAMILY: _("家庭共济：按被代缴人设定的扣款顺序，从为其授权的各主账户依次扣款"),
}
COUNTER_COMMITMENT_UNCHECKED = _("请确认主账户人已在窗口阅读并签署代缴承诺书")


def holder_label(authorization: Authorization) -> str:
    holder = authorization.holder
    return _("%(name)s（%(number)s）· 被代缴人是其%(relation)s") % {
        "name": holder.name,
        "number": holder.masked_id_number,
        "relation": authorization.get_relation_display(),
    }


class PremiumCounterChooseForm(forms.Form):
    """GET: whose account, which year, which pay type. Holders are the member's live
    authorizations; years are the premiums of the member's region."""

    holder = forms.ChoiceField(
        label=_("主账户人"),
        widget=forms.RadioSelect,
        error_messages={"required": HOLDER_REQUIRED, "invalid_choice": HOLDER_REQUIRED},
    )
    year = year_field()
    pay_type = pay_type_field(COUNTER_PAY_TYPE_HELP, initial=PayType.PERSONAL)

    def __init__(
        self,
        *args,
        authorizations: list[Authorization],
        premiums: list[ResidentPremium],
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.holders = {str(a.holder.public_id): a.holder for a in authorizations}
        self.fields["holder"].choices = [
            (str(a.holder.public_id), holder_label(a)) for a in authorizations
        ]
        self.fields["year"].choices = year_choices(p.year for p in premiums)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            "holder",
            Field("year"),
            "pay_type",
            Div(
                StrictButton(_("代缴信息校验"), type="submit", css_class="btn-primary"),
                css_class="d-grid d-sm-flex gap-2 mt-2",
            ),
        )

    @property
    def chosen_holder(self):
        return self.holders[self.cleaned_data["holder"]]


class PremiumCounterConfirmForm(forms.Form):
    """POST: what the check page showed, the idempotency key made when it was shown (a double
    submit carries the same key and pays once), and the clerk's confirmation that the holder
    signed the 代缴承诺书 on paper (R18)."""

    key = forms.UUIDField(widget=forms.HiddenInput)
    holder = forms.UUIDField(widget=forms.HiddenInput)
    year = forms.IntegerField(widget=forms.HiddenInput, min_value=2000, max_value=2099)
    pay_type = forms.ChoiceField(choices=PayType.choices, widget=forms.HiddenInput)
    commitment = forms.BooleanField(
        label=_("主账户人已在窗口阅读并签署代缴承诺书"),
        error_messages={"required": COUNTER_COMMITMENT_UNCHECKED},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            "key",
            "holder",
            "year",
            "pay_type",
            "commitment",
            Div(
                StrictButton(_("确认扣款缴费"), type="submit", css_class="btn-primary btn-lg"),
                css_class="d-grid d-sm-flex gap-2 mt-3",
            ),
        )
