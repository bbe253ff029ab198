"""The dashboard's region filter (issue 6 point 4)."""

from __future__ import annotations

from collections.abc import Iterable

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Layout, Row
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import RegionPolicy

ALL_MY_REGIONS = _("我负责的全部统筹区")


class DashboardFilterForm(forms.Form):
    """GET ?region=<code>, among the regions given (the user's own); empty: all of them."""

    region = forms.ChoiceField(label=_("统筹区"), required=False)

    def __init__(self, *args, regions: Iterable[RegionPolicy] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.regions = {r.code: r for r in regions}
        self.fields["region"].choices = [
            ("", ALL_MY_REGIONS),
            *((code, f"{r.name}（{code}）") for code, r in self.regions.items()),
        ]
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.disable_csrf = True  # a view of figures: nothing changes
        self.helper.attrs = {"aria-label": _("选择统筹区")}
        self.helper.layout = Layout(
            Row(
                Column("region", css_class="col-sm-8 col-md-5 col-xl-4"),
                Column(
                    HTML(f'<button type="submit" class="btn btn-primary">{_("查看")}</button>'),
                    css_class="col-auto align-self-end mb-3",
                ),
            )
        )

    def selected_region(self) -> RegionPolicy | None:
        return self.regions.get(self.cleaned_data.get("region") or "")
