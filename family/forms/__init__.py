"""Forms of the family pages, split by the page groups of family/views/."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def place_error(form, exc: ValidationError, fields: dict[str, str]) -> None:
    """Add a service error to the field its code belongs to (`fields`: code -> field, one map per
    page, e.g. family.views.binding.WINDOW_FIELD_ERRORS), else above the form."""
    field = fields.get(getattr(exc, "code", None) or "")
    form.add_error(field if field in form.fields else None, exc)
