"""Forms of the 个账代缴 pages (R16). They only parse input: whom the holder may pay for and for
which years come from the selectors; every rule of the payment is `selectors.premium_check`'s,
run again by `services.premium_pay`."""

from __future__ import annotations

from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout
from django import forms
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.models import ResidentPremium
from family.models import Authorization

from ..models import PremiumPayment

PayType = PremiumPayment.PayType

MEMBER_REQUIRED = _("请选择要为其缴费的家庭成员")
YEAR_REQUIRED = _("请选择缴费年度")
PAY_TYPE_REQUIRED = _("请选择代缴方式")
NO_YEAR_FOR_MEMBER = _("%(member)s的参保地%(region)s没有%(year)s年度的缴费标准，请选择其他年度")
COMMITMENT_UNCHECKED = _("请阅读代缴承诺书，并勾选“本人已阅读并同意以上承诺”")

PAY_TYPE_HELP = {
    PayType.PERSONAL: _("个人共济：仅从您本人的职工医保个人账户扣款"),
    PayType.FAMILY: _("家庭共济：按被代缴人设定的扣款顺序，从为其授权的各主账户依次扣款"),
}


def year_field() -> forms.TypedChoiceField:
    """缴费年度, the same on the citizen and the counter pages; choices from `year_choices`."""
    return forms.TypedChoiceField(
        label=_("缴费年度"),
        coerce=int,
        error_messages={"required": YEAR_REQUIRED, "invalid_choice": YEAR_REQUIRED},
    )


def year_choices(years) -> list:
    return [("", _("请选择")), *((y, _("%(year)s年度") % {"year": y}) for y in years)]


def pay_type_field(help_texts: dict, **kwargs) -> forms.ChoiceField:
    """代缴方式, each choice labelled by what it means to whoever reads it (`help_texts`)."""
    return forms.ChoiceField(
        label=_("代缴方式"),
        choices=[(value, help_texts[value]) for value in PremiumPayment.HOLDER_PAY_TYPES],
        widget=forms.RadioSelect,
        error_messages={"required": PAY_TYPE_REQUIRED, "invalid_choice": PAY_TYPE_REQUIRED},
        **kwargs,
    )


def member_label(authorization: Authorization) -> str:
    member = authorization.member
    return f"{member.name}（{member.masked_id_number}）· {authorization.get_relation_display()}"


class PremiumChooseForm(forms.Form):
    """Step 1: member, year and pay type. Also parses the same values from the query string of
    the letter page, so that every later step re-validates them."""

    member = forms.ChoiceField(
        label=_("被代缴人（家庭成员）"),
        widget=forms.RadioSelect,
        error_messages={"required": MEMBER_REQUIRED, "invalid_choice": MEMBER_REQUIRED},
    )
    year = year_field()
    pay_type = pay_type_field(PAY_TYPE_HELP)

    def __init__(
        self,
        *args,
        members: list[Authorization],
        premiums: list[ResidentPremium],
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.premiums = premiums
        self.members = {str(a.member.public_id): a.member for a in members}
        self.years_by_region = {(p.region_id, p.year) for p in premiums}
        self.fields["member"].choices = [
            (str(a.member.public_id), member_label(a)) for a in members
        ]
        years = sorted({p.year for p in premiums}, reverse=True)
        self.fields["year"].choices = year_choices(years)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            "member",
            Field("year", css_class="form-select-lg"),
            "pay_type",
            Div(
                StrictButton(
                    _("下一步：阅读代缴承诺书"), type="submit", css_class="btn-primary btn-lg"
                ),
                css_class="d-grid d-sm-flex gap-2 mt-3",
            ),
        )

    def clean(self):
        cleaned = super().clean()
        member = self.members.get(cleaned.get("member") or "")
        year = cleaned.get("year")
        if member is not None and year and (member.region_id, year) not in self.years_by_region:
            self.add_error(
                "year",
                forms.ValidationError(
                    NO_YEAR_FOR_MEMBER,
                    code="no_year",
                    params={"member": member.name, "region": member.region.name, "year": year},
                ),
            )
        return cleaned

    @property
    def chosen_member(self):
        return self.members[self.cleaned_data["member"]]


class PremiumCommitmentForm(forms.Form):
    """Step 2: the 代缴承诺书 is confirmed with a checkbox; the letter text is on the page."""

    agree = forms.BooleanField(
        label=_("本人已阅读并同意以上承诺"),
        error_messages={"required": COMMITMENT_UNCHECKED},
    )

    def __init__(self, *args, back_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        back = HTML(
            format_html(
                '<a class="btn btn-outline-secondary btn-lg" href="{}">{}</a>',
                back_url,
                _("返回修改"),
            )
        )
        self.helper.layout = Layout(
            Field("agree", css_class="form-check-input-lg"),
            Div(
                back,
                StrictButton(
                    _("下一步：代缴信息校验"), type="submit", css_class="btn-primary btn-lg"
                ),
                css_class="d-grid d-sm-flex gap-2 mt-3",
            ),
        )


class PremiumConfirmForm(forms.Form):
    """Step 3: what the check page showed, and the idempotency key made when it was shown."""

    key = forms.UUIDField(widget=forms.HiddenInput)
    member = forms.UUIDField(widget=forms.HiddenInput)
    year = forms.IntegerField(widget=forms.HiddenInput, min_value=2000, max_value=2099)
    pay_type = forms.ChoiceField(choices=PayType.choices, widget=forms.HiddenInput)
