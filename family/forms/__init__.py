"""Forms of the family pages, split by the page groups of family/views/."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def place_error(form, exc: ValidationError, fields: dict) -> None:
    """Add a service error to the field it concerns (by its message constant), else above the
    form. `fields` maps a service message to a field name; a page's views share one map."""
    message = str(getattr(exc, "message", ""))
    for known, field in fields.items():
        if message == str(known) and field in form.fields:
            form.add_error(field, exc)
            return
    form.add_error(None, exc)
