"""Forms of the statement pages: the GET filter of 我的个人账户 (also used by staff in the admin).
They only parse input; what a person may see is the selectors'."""

from __future__ import annotations

from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from family.forms.member import DATES_REVERSED, DateInput

from ..models import LedgerTransaction

ALL_KINDS = _("全部")


class StatementFilterForm(forms.Form):
    """Every field is optional; an empty form lists every entry."""

    date_from = forms.DateField(
        label=_("开始日期"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=DateInput(),
    )
    date_to = forms.DateField(
        label=_("结束日期"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=DateInput(),
    )
    kind = forms.ChoiceField(
        label=_("类别"),
        required=False,
        choices=[("", ALL_KINDS), *LedgerTransaction.Kind.choices],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Div(
                Div("date_from", css_class="col-6 col-md-4"),
                Div("date_to", css_class="col-6 col-md-4"),
                Div("kind", css_class="col-12 col-md-4"),
                css_class="row g-2",
            ),
            Div(
                # No name: the button adds nothing to the query string the page links keep.
                StrictButton(_("查询"), type="submit", css_class="btn-primary"),
                css_class="d-grid d-sm-flex gap-2 mt-2",
            ),
        )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", ValidationError(DATES_REVERSED, code="dates"))
        return cleaned

    @property
    def filters(self) -> dict:
        """The selector's keyword arguments (empty ones as None); call after is_valid()."""
        data = self.cleaned_data if self.is_bound else {}
        return {
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
            "kind": data.get("kind") or None,
        }

    @property
    def filtered(self) -> bool:
        return any(self.filters.values())
