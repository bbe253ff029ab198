"""What the property tests need around a page: its forms as a browser sees them, the writes to
every business table, and an example run in a savepoint that is rolled back."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.apps import apps
from django.db import connection, transaction

# Tables a refusal may legitimately write: the session, django-axes' failure records (a wrong
# password is a failure to count) and the API's replay memory. Everything else is business data
# and must not change when a request is refused.
NOT_STATE = {
    "django_session",
    "axes_accessattempt",
    "axes_accessfailurelog",
    "axes_accesslog",
    "payments_apirequestseen",
}
STATE_APPS = ("accounts", "family", "payments", "wallet", "auth")


@dataclass
class Field:
    name: str
    value: str
    options: list[str] = field(default_factory=list)
    kind: str = "text"


@dataclass
class Form:
    method: str
    action: str
    fields: list[Field] = field(default_factory=list)
    multipart: bool = False

    def defaults(self) -> dict[str, str]:
        """The values the page shows (first option of a select, checked boxes only)."""
        data: dict[str, str] = {}
        for f in self.fields:
            if f.kind in ("checkbox", "radio") and f.value == "":
                continue
            data.setdefault(f.name, f.value)
        return data


class _FormParser(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__()
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._textarea: Field | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = a.get("action") or self.page_url
            self._form = Form(
                method=(a.get("method") or "get").lower(),
                action=urlsplit(action).path or urlsplit(self.page_url).path,
                multipart="multipart" in a.get("enctype", ""),
            )
            self.forms.append(self._form)
            return
        form = self._form
        if tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select.options.append(value)
            if "selected" in a or not self._select.value:
                self._select.value = value
            return
        if form is None or "name" not in a or "disabled" in a:
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                value = a.get("value", "on") if "checked" in a else ""
                existing = next((f for f in form.fields if f.name == a["name"]), None)
                if existing:
                    existing.options.append(a.get("value", "on"))
                    if value:
                        existing.value = value
                    return
                form.fields.append(Field(a["name"], value, [a.get("value", "on")], kind))
            elif kind not in ("submit", "button", "image", "reset"):
                form.fields.append(Field(a["name"], a.get("value", ""), kind=kind))
            else:
                self._button(form, a)
        elif tag == "button" and a.get("type", "submit") == "submit":
            self._button(form, a)
        elif tag == "select":
            self._select = Field(a["name"], "", kind="select")
            form.fields.append(self._select)
        elif tag == "textarea":
            self._textarea = Field(a["name"], "", kind="textarea")
            form.fields.append(self._textarea)

    @staticmethod
    def _button(form: Form, a: dict) -> None:
        """Buttons of one name (agree / decline) are one field whose options are their values."""
        existing = next((f for f in form.fields if f.name == a["name"]), None)
        if existing:
            existing.options.append(a.get("value", ""))
        else:
            form.fields.append(Field(a["name"], "", [a.get("value", "")], "submit"))

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def forms_of(html: str, page_url: str) -> list[Form]:
    """The page's forms that send something (not the language switch or the logout button)."""
    parser = _FormParser(page_url)
    parser.feed(html)
    skip = ("/i18n/", "/accounts/logout/", "/admin/logout/")
    return [f for f in parser.forms if f.fields and not f.action.startswith(skip)]


def _tables() -> set[str]:
    tables = set()
    for label in STATE_APPS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            tables.add(model._meta.db_table)
    return tables - NOT_STATE


def writes() -> dict[str, int]:
    """Rows inserted, updated or deleted so far in this transaction, per business table
    (PostgreSQL's own counters, savepoints included): a refused request must add none, not even
    an update that writes the same values."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables"
        )
        counts = dict(cursor.fetchall())
    return {table: counts.get(table, 0) for table in sorted(_tables())}


def changed(before: dict[str, int], after: dict[str, int]) -> list[str]:
    return [table for table in before if before[table] != after[table]]


@contextlib.contextmanager
def rolled_back():
    """One example's changes, undone afterwards (a savepoint). The services open durable
    transactions; Django lets those nest only inside its test-case blocks, so this savepoint is
    marked as one (the flag TestCase itself sets)."""
    block = transaction.atomic()
    block._from_testcase = True
    with block:
        yield
        transaction.set_rollback(True)
