"""The form of the wallet premium page (R26): the year, the confirmation, and the idempotency key
made when the page was first shown (a double click pays once)."""

from __future__ import annotations

import uuid

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout, Submit
from django import forms
from django.utils.translation import gettext_lazy as _

YEAR_REQUIRED = _("请选择缴费年度")
CONFIRM_REQUIRED = _("请确认从医保钱包缴费")


class WalletPremiumForm(forms.Form):
    year = forms.TypedChoiceField(
        label=_("缴费年度"),
        coerce=int,
        error_messages={"required": YEAR_REQUIRED, "invalid_choice": YEAR_REQUIRED},
    )
    confirm = forms.BooleanField(
        label=_("我确认从本人的医保钱包缴纳该年度城乡居民医保费"),
        error_messages={"required": CONFIRM_REQUIRED},
    )
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, years: list[int], **kwargs):
        kwargs.setdefault("initial", {}).setdefault("key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [(y, _("%(year)s年度") % {"year": y}) for y in years]
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            Field("year"),
            Field("confirm", css_class="form-check-input-lg"),
            "key",
            Submit("pay", _("确认缴费"), css_class="btn-primary btn-lg mt-2"),
        )
