"""Forms of the statement pages: the GET filter of 我的个人账户 (also used by staff in the admin).
They only parse input; what a person may see is the selectors'."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from family.forms.member import DateRangeFilterForm

from ..models import LedgerTransaction

ALL_KINDS = _("全部")


class StatementFilterForm(DateRangeFilterForm):
    """Every field is optional; an empty form lists every entry."""

    kind = forms.ChoiceField(
        label=_("类别"),
        required=False,
        choices=[("", ALL_KINDS), *LedgerTransaction.Kind.choices],
    )
    columns = (
        ("date_from", "col-6 col-md-4"),
        ("date_to", "col-6 col-md-4"),
        ("kind", "col-12 col-md-4"),
    )

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
