"""How a page is attacked: each form the page shows, with its fields filled from
tests/properties/hostile.py (every listed nasty value once per field, then generated values),
and the query and posted parameters views read directly.

Asserted for every request: no 5xx; a GET writes no business data (but what `get_writes`
allows); a POST that is refused (anything but a redirect) writes nothing. Each request runs in a
savepoint rolled back afterwards, so requests do not see each other's changes."""

from __future__ import annotations

from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from .catalogue import POST_NAMES, QUERY_NAMES, Page
from .harness import Field, Form, changed, forms_of, rolled_back, writes
from .hostile import NASTY, hostile, plausible

REDIRECTS = {301, 302, 303}


def _value(field: Field) -> st.SearchStrategy:
    if field.kind == "file":
        return st.builds(
            SimpleUploadedFile,
            st.sampled_from(["scan.pdf", "scan.png", "a\x00.pdf", "../../x.pdf", "x" * 300]),
            st.binary(max_size=2048),
            st.sampled_from(["application/pdf", "image/png", "text/html", ""]),
        )
    shown = [field.value, *field.options] if field.value or field.options else [""]
    one = st.one_of(st.sampled_from(shown), plausible(), st.sampled_from(NASTY), hostile())
    # Now and then the same name twice (a hand-made request), which a form reads as one value.
    return st.one_of(one, one, one, st.lists(one, min_size=2, max_size=3))


def _data(form: Form) -> st.SearchStrategy[dict]:
    fields = {f.name: _value(f) for f in form.fields}
    return (
        st.fixed_dictionaries({}, optional=fields)
        if len(fields) > 6
        else st.fixed_dictionaries(fields)
    )


def _bind_draft(client, world) -> None:
    """王建国 has filled the bind wizard's first step for his daughter 王丽."""
    daughter = world.people["王丽"]
    response = client.post(
        reverse("family:bind"),
        {
            "members-TOTAL_FORMS": "1",
            "members-INITIAL_FORMS": "0",
            "members-0-relation": "child",
            "members-0-name": daughter.name,
            "members-0-id_number": daughter.id_number,
            "next": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def _activation(client, world) -> None:
    """周芳 has asked for an activation code (the code page waits for it)."""
    person = world.people["周芳"]
    response = client.post(
        reverse("accounts:activate"),
        {"id_number": person.id_number, "name": person.name, "phone": person.phone},
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def _wallet_open(client, world) -> None:
    """王建国 has opened his wallet (the close page then shows its form)."""
    response = client.post(reverse("wallet:open"), {"confirm_place": "on", "confirm_phone": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]


def _counter_wallet_open(client, world) -> None:
    """js_clerk has opened 王建国's wallet at the counter (the close page then shows its form)."""
    response = client.post(
        reverse("staff:wallet-open", args=[world.objects["person"]]),
        {"documents_seen": ["id_card"], "confirm_place": "on", "confirm_phone": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]


PREPARE = {
    "bind_draft": _bind_draft,
    "activation": _activation,
    "wallet_open": _wallet_open,
    "counter_wallet_open": _counter_wallet_open,
}


def _prepare(client, world, page: Page) -> None:
    cache.clear()
    if page.prepare:
        PREPARE[page.prepare](client, world)


def _url(world, page: Page) -> str:
    return reverse(page.name, args=[world.objects[page.obj]] if page.obj else [])


def _query(world, page: Page) -> str:
    return page.query.format(**world.objects)


def _probes(client, world, page: Page) -> list[Form]:
    url = _url(world, page)
    with rolled_back():
        _prepare(client, world, page)
        response = client.get(url + _query(world, page))
        assert response.status_code < 500, (url, response.status_code)
        forms = []
        if response.get("Content-Type", "").startswith("text/html"):
            forms = forms_of(response.content.decode(), url)
    for form in forms:  # the names views read directly ride along with each form
        names = {f.name for f in form.fields}
        extra = QUERY_NAMES if form.method == "get" else POST_NAMES
        form.fields += [Field(name, "") for name in extra if name not in names]
    return [
        Form("get", url, [Field(name, "1") for name in (*QUERY_NAMES, *page.query_names)]),
        *forms,
        Form("post", url, [Field(name, "1") for name in POST_NAMES]),
    ]


def _send(client, world, page: Page, form: Form, data: dict) -> None:
    """One request in a savepoint: no 5xx; no write on a GET (but `get_writes`) or on a refusal."""
    with rolled_back():
        _prepare(client, world, page)
        before = writes()
        send = client.get if form.method == "get" else client.post
        query = _query(world, page) if form.method == "get" else ""
        response = send(form.action + query, data)
        status = response.status_code
        assert status < 500, (form.method, form.action, status, data)
        if form.method == "get" or status not in REDIRECTS:
            allowed = set(page.get_writes) if form.method == "get" else set()
            assert set(changed(before, writes())) <= allowed, (form.method, status, data)


def _sweep(client, world, page: Page, form: Form) -> None:
    """Every listed nasty value in every field, once: request i puts NASTY[(i + j) % n] in the
    form's field j (all fields hostile at once: each is parsed, whatever the others hold)."""
    fields = [f for f in form.fields if f.name != "csrfmiddlewaretoken"]
    n = len(NASTY)
    for i in range(n):
        data = form.defaults()
        for j, field in enumerate(fields):
            value = NASTY[(i + j) % n]
            if field.kind == "file":
                value = SimpleUploadedFile(f"{i}.pdf", value.encode(), "application/pdf")
            data[field.name] = value
        _send(client, world, page, form, data)


def _attack(client, world, page: Page, form: Form) -> None:
    """Generated values, mixed with what the page shows and what a person would type."""

    @settings(max_examples=page.examples)
    @given(data=_data(form))
    def attempt(data):
        _send(client, world, page, form, data)

    attempt()


def attack(client, world, page: Page) -> None:
    if page.actor:  # once: each request's savepoint keeps the session as it was
        client.force_login(world.users[page.actor])
    probes = _probes(client, world, page)
    for form in probes[1:-1] if page.sweep else []:  # the page's own forms
        _sweep(client, world, page, form)
    for form in probes:
        _attack(client, world, page, form)
