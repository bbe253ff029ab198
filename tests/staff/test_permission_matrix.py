"""The staff console's permission matrix (issue 6 acceptance): every role × region × page/action.

Roles: anonymous, a citizen (王建国's own login), 窗口经办 js_clerk (320100/320200), 审核 js_super
(same regions), 窗口经办 xj_clerk (659004), 管理员 js_admin (a non-superuser administrator of
320100/320200, made here), and the superuser admin (every region).

Each page or action is tried on an object of region A (Jiangsu: 王建国's family) and of region B
(五家渠: 马志强's family). Expected: 200 (or the action's redirect) where role and region allow it,
403 where the role lacks the permission, 404 where the object is in another region (whether it
exists is not revealed), a redirect to the staff login for anonymous visitors and 403 for a
citizen on every URL under /staff/."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import Group
from django.urls import URLPattern, reverse

from accounts.models import RegionPolicy, User
from accounts.staff import ADMINISTRATOR
from family import services as family_services
from family.models import Authorization, CounterBinding, Relation
from payments.models import Institution
from portal.urls import staff_patterns
from tests.clock import NOW
from tests.payments.builders import settle
from tests.wallet.helpers import give, open_wallet
from wallet.models import Wallet
from wallet.services import clearing_run

from .counter_helpers import DAUGHTER, SISTER, SPOUSE, signed

ROLES = ["anonymous", "citizen", "js_clerk", "js_super", "xj_clerk", "js_admin", "admin"]


@pytest.fixture(autouse=True)
def _scan_root(settings, tmp_path):
    settings.COUNTER_SCAN_ROOT = tmp_path / "scans"


@pytest.fixture
def world(demo):
    """Objects of both regions, and the users of every role."""
    js_admin = User.objects.create_user(
        username="js_admin", password="Staff-2025!", is_staff=True, first_name="江苏管理员"
    )
    js_admin.groups.set([Group.objects.get(name=ADMINISTRATOR)])
    js_admin.regions.set(RegionPolicy.objects.filter(code__in=["320100", "320200"]))
    users = {**demo.staff, "js_admin": js_admin, "citizen": demo["王建国"].user}

    p = demo.people
    a_auth = Authorization.objects.get(holder=p["王建国"], member=p["王小明"])
    b_auth = Authorization.objects.get(holder=p["马志强"], member=p["马小燕"])
    # A binding waiting for review in each region (signed letter scanned, submitted).
    a_binding = family_services.counter_binding_submit(
        binding=signed(demo, "王建国", [SPOUSE, DAUGHTER, SISTER]), actor=demo.staff["js_clerk"]
    )
    # 五家渠 asks a supervisor from two members on, so 马俊 beside 马小燕 waits for review too.
    RegionPolicy.objects.filter(code="659004").update(review_member_threshold=1)
    b_binding = family_services.counter_binding_submit(
        binding=signed(demo, "马志强", [("马俊", Relation.CHILD)], clerk="xj_clerk"),
        actor=demo.staff["xj_clerk"],
    )
    objects = {
        "A": {
            "batch": _clearing_batch(demo, p["王建国"]),
            "person": p["王建国"],
            "member": p["王小明"],
            "authorization": a_auth,
            "relationship": a_auth.relationship,
            "binding": a_binding,
            "letter": a_auth.letters.latest("signed_at"),
        },
        "B": {
            "batch": _clearing_batch(demo, p["马志强"]),
            "person": p["马志强"],
            "member": p["马小燕"],
            "authorization": b_auth,
            "relationship": b_auth.relationship,
            "binding": b_binding,
            "letter": b_auth.letters.latest("signed_at"),
        },
    }
    return users, objects


def _clearing_batch(demo, sender):
    """A clearing batch owed by the sender's region to 杭州 (R27): the sender gives 王秀兰 100.00,
    she spends it at HZ-HOSP-001, and the night after is cleared."""
    mother = demo.people["王秀兰"]
    if not Wallet.objects.filter(person=mother).exists():
        open_wallet(mother)
    give(sender, mother, "100.00")
    settle(Institution.objects.get(code="HZ-HOSP-001"), mother, "100.00")
    [batch] = clearing_run(at=NOW + dt.timedelta(days=1))
    return batch


def _client_for(client, users, role):
    if role != "anonymous":
        client.force_login(users[role])
    return client


# (url name, which object gives the public id, method) -> expected status per role, for the object
# of region A. For region B the two regional clerks and the Jiangsu roles swap (see _expected).
OK, FORBIDDEN, MISSING, LOGIN = 200, 403, 404, "login"
PAGES = [
    # name, object, method, {role: expected on region A}
    ("home", None, "get", dict.fromkeys(["js_clerk", "js_super", "xj_clerk", "js_admin"], OK)),
    (
        "person-search",
        None,
        "get",
        dict.fromkeys(["js_clerk", "js_super", "xj_clerk", "js_admin"], OK),
    ),
    ("dashboard", None, "get", dict.fromkeys(["js_clerk", "js_super", "xj_clerk", "js_admin"], OK)),
    ("audit", None, "get", dict.fromkeys(["js_clerk", "js_super", "xj_clerk", "js_admin"], OK)),
    (
        "audit-export",
        None,
        "get",
        {"js_clerk": FORBIDDEN, "js_super": OK, "xj_clerk": FORBIDDEN, "js_admin": OK},
    ),
    (
        "review-list",
        None,
        "get",
        {"js_clerk": FORBIDDEN, "js_super": OK, "xj_clerk": FORBIDDEN, "js_admin": FORBIDDEN},
    ),
    ("person", "person", "get", {"js_clerk": OK, "js_super": OK, "js_admin": OK}),
    ("binding", "binding", "get", {"js_clerk": OK, "js_super": OK, "js_admin": OK}),
    ("binding-letter", "binding", "get", {"js_clerk": OK, "js_super": OK, "js_admin": OK}),
    # issue 7: a signed letter's print view and PDF (family.view_commitmentletter)
    ("letter-print", "letter", "get", {"js_clerk": OK, "js_super": OK, "js_admin": OK}),
    ("letter-pdf", "letter", "get", {"js_clerk": OK, "js_super": OK, "js_admin": OK}),
    (
        "binding-review",
        "binding",
        "get",
        {"js_clerk": FORBIDDEN, "js_super": OK, "js_admin": FORBIDDEN},
    ),
    (
        "binding-start",
        "person",
        "post",
        {"js_clerk": "redirect", "js_super": "redirect", "js_admin": FORBIDDEN},
    ),
    (
        "authorization-revoke",
        "authorization",
        "get",
        {"js_clerk": OK, "js_super": OK, "js_admin": FORBIDDEN},
    ),
    (
        "relationship-end",
        "relationship",
        "get",
        {"js_clerk": OK, "js_super": OK, "js_admin": FORBIDDEN},
    ),
    ("member-order", "member", "get", {"js_clerk": OK, "js_super": OK, "js_admin": FORBIDDEN}),
    ("person-status", "person", "get", {"js_clerk": OK, "js_super": OK, "js_admin": FORBIDDEN}),
    (
        "premium-counter",
        "member",
        "get",
        {"js_clerk": OK, "js_super": OK, "js_admin": FORBIDDEN},
    ),
    # the wallet at the counter (R23): administrators read it, clerks and supervisors act
    ("wallet-transfers", "person", "get", {"js_clerk": OK, "js_super": OK, "js_admin": OK}),
    ("wallet-open", "person", "get", {"js_clerk": OK, "js_super": OK, "js_admin": FORBIDDEN}),
    ("wallet-close", "person", "get", {"js_clerk": OK, "js_super": OK, "js_admin": FORBIDDEN}),
    # clearing between regions (R27): supervisors read and confirm; a batch is its regions'
    (
        "clearing",
        None,
        "get",
        {"js_clerk": FORBIDDEN, "js_super": OK, "xj_clerk": FORBIDDEN, "js_admin": FORBIDDEN},
    ),  # fmt: skip
    (
        "clearing-batch",
        "batch",
        "get",
        {"js_clerk": FORBIDDEN, "js_super": OK, "js_admin": FORBIDDEN},
    ),  # fmt: skip
    (
        "clearing-csv",
        "batch",
        "get",
        {"js_clerk": FORBIDDEN, "js_super": OK, "js_admin": FORBIDDEN},
    ),  # fmt: skip
    (
        "clearing-confirm",
        "batch",
        "post",
        {"js_clerk": FORBIDDEN, "js_super": "redirect", "js_admin": FORBIDDEN},
    ),  # fmt: skip
]
REGIONAL = {"js_clerk", "js_super", "js_admin", "xj_clerk"}
JIANGSU = {"js_clerk", "js_super", "js_admin"}


def _expected(row_expect: dict, obj: str | None, region: str, role: str, method: str):
    if role == "anonymous":
        return LOGIN
    if role == "citizen":
        return FORBIDDEN
    if role == "admin":  # superuser: every region, every permission
        return "redirect" if method == "post" else OK
    if obj is None:  # pages without an object: the role decides
        return row_expect[role]
    # What the Jiangsu role may do to A, the 659004 clerk may do to B (as a clerk), and vice
    # versa nothing: a role lacking the permission gets 403 before the object is looked up.
    if region == "A":
        if role in JIANGSU:
            return row_expect[role]
        allowed = row_expect["js_clerk"]  # xj_clerk is a clerk too
        return FORBIDDEN if allowed == FORBIDDEN else MISSING
    # region B
    if role == "xj_clerk":
        return row_expect["js_clerk"]
    allowed = row_expect[role]
    return FORBIDDEN if allowed == FORBIDDEN else MISSING


@pytest.mark.parametrize(
    ("name", "obj", "method", "expect"), [pytest.param(*row, id=row[0]) for row in PAGES]
)
def test_permission_matrix(client, world, name, obj, method, expect):
    """One page or action, every role, both regions: all mismatches are reported at once."""
    users, objects = world
    mismatches = []
    for region in ["A", "B"] if obj else ["-"]:
        url = reverse(f"staff:{name}", args=[objects[region][obj].public_id] if obj else [])
        for role in ROLES:
            client.logout()
            response = getattr(_client_for(client, users, role), method)(url)
            wanted = _expected(expect, obj, region, role, method)
            location = response.get("Location", "")
            login = location.startswith(reverse("admin:login"))
            if wanted == LOGIN:
                ok = response.status_code == 302 and login
            elif wanted == "redirect":
                ok = response.status_code == 302 and not login
            else:
                ok = response.status_code == wanted
            if not ok:
                mismatches.append((region, role, wanted, response.status_code, location))
    assert mismatches == []


def test_every_staff_url_is_in_the_matrix():
    """A new staff page must be added to the matrix above (or here, with its reason)."""
    names = {p.name for p in staff_patterns if isinstance(p, URLPattern)}
    covered = {name for name, *_ in PAGES}
    # binding-upload is a POST of a file (covered by test_scan_upload and the browser test);
    # binding-scan needs an uploaded file and is checked in test_scan_download_is_scoped.
    assert names - covered == {"binding-upload", "binding-scan"}


def test_scan_download_is_scoped(client, world):
    users, objects = world
    binding = objects["A"]["binding"]
    url = reverse("staff:binding-scan", args=[binding.public_id])
    expectations = {
        "js_clerk": 200,
        "js_super": 200,
        "js_admin": 200,
        "admin": 200,
        "xj_clerk": 404,
        "citizen": 403,
    }
    for role, status in expectations.items():
        client.force_login(users[role])
        response = client.get(url)
        assert response.status_code == status, role
        if status == 200:
            assert response["Content-Disposition"].startswith("attachment")
            assert response["X-Content-Type-Options"] == "nosniff"
    client.logout()
    assert client.get(url).status_code == 302


def test_a_citizen_gets_nothing_under_staff(client, world):
    """Every staff URL, each with a real object where it takes one: 403 for a citizen."""
    users, objects = world
    client.force_login(users["citizen"])
    a = objects["A"]
    ids = {
        "person": a["person"].public_id,
        "binding": a["binding"].public_id,
        "authorization": a["authorization"].public_id,
        "relationship": a["relationship"].public_id,
        "letter": a["letter"].public_id,
    }
    for pattern in staff_patterns:
        route = str(pattern.pattern)
        args = []
        if "<uuid:public_id>" in route:
            kind = next(
                (k for k in ("binding", "authorization", "relationship", "letter") if k in route),
                "person",
            )
            if route.startswith("reviews/"):
                kind = "binding"
            args = [ids[kind]]
        url = reverse(f"staff:{pattern.name}", args=args)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 403, (url, method, response.status_code)


def test_region_a_staff_find_nothing_of_region_b(client, world):
    """Search, audit filter and CSV export: js_super (Jiangsu) and the 659004 family."""
    users, objects = world
    client.force_login(users["js_super"])
    ma = objects["B"]["person"]
    search = reverse("staff:person-search")
    page = client.post(search, {"q": "王"}, follow=True).content.decode()
    assert "王建国" in page  # the search works for this user ...
    page = client.post(search, {"q": "马"}, follow=True).content.decode()
    assert "马志强" not in page  # ... and finds nobody of 659004
    page = client.post(search, {"q": ma.id_number}, follow=True).content.decode()
    assert "马志强" not in page and "没有找到" in page
    posted = client.post(reverse("staff:audit"), {"person": ma.id_number})
    token = posted["Location"].split("?s=", 1)[1]
    page = client.get(posted["Location"])
    assert page.context["rows"] == []
    assert "马志强" not in page.content.decode()
    export = client.get(reverse("staff:audit-export"), {"s": token})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 1  # the header alone
    export = client.get(reverse("staff:audit-export"))
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    assert "王建国" in text
    assert "马志强" not in text and "古丽娜" not in text and "马小燕" not in text
    # The dashboard refuses another region's figures instead of showing them.
    region_b = RegionPolicy.objects.get(code="659004")
    response = client.get(reverse("staff:dashboard"), {"region": region_b.code})
    assert response.status_code in (200, 404)
    assert "五家渠" not in response.content.decode()


def test_the_matrix_objects_are_what_they_claim(world):
    """Guard for the matrix itself: region A objects are Jiangsu, region B ones 五家渠, and both
    bindings really wait for review."""
    _, objects = world
    assert objects["A"]["binding"].status == CounterBinding.Status.PENDING_REVIEW
    assert objects["B"]["binding"].status == CounterBinding.Status.PENDING_REVIEW
    assert objects["B"]["binding"].region.code == "659004"
    assert objects["A"]["person"].region.code == "320100"
    assert objects["B"]["person"].region.code == "659004"
    assert objects["B"]["authorization"].holder.region.code == "659004"
