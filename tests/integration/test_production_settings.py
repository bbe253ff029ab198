"""The production settings under gunicorn, against the failures of issue 13 (the acceptance's
"production settings run in a test with Redis closed, behind a proxy header, and with the
database killed mid-request").

One gunicorn (portal.settings.production, one sync worker) serves the test database. Its Redis
(cache and broker) is a port where nothing listens; it sits behind a "proxy" (TRUSTED_PROXIES is
127.0.0.1, and every request carries X-Forwarded-Proto and X-Forwarded-For as nginx would set
them). Through it:
- /verify/<code>, activation (both steps) and the consent answer work with Redis closed (they
  were 500s: Django's RedisCache raised);
- every page carries the Content-Security-Policy, HSTS and Cache-Control: no-store;
- a failed login is counted under the client's address, not the proxy's;
- a request whose database connection is killed while it waits is answered 503 (the API in its
  JSON shape, a page with "try again"), leaves nothing behind, and the same request afterwards
  succeeds;
- gunicorn's access log never holds a full identity number."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.cookies import SimpleCookie
from pathlib import Path

import psycopg
import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.utils import timezone

from accounts.demo import CITIZEN_PASSWORD
from accounts.models import InsuredPerson
from family.models import Authorization, CommitmentLetter, Relation
from payments.models import LedgerAccount, Settlement
from tests.demo import load_demo, people
from tests.family.builders import bind, live, req

pytestmark = [pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
HOST = "gongji.example.gov.cn"
CLOSED_REDIS = "redis://127.0.0.1:6399/0"  # nothing listens there
FULL_ID_NUMBER = re.compile(r"\d{17}[\dXx]")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(tmp: Path) -> dict:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=HOST,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=CLOSED_REDIS,
        CELERY_BROKER_URL=CLOSED_REDIS,
        TRUSTED_PROXIES="127.0.0.1/32",
        STATIC_ROOT=str(tmp / "static"),
        SMS_BACKEND="accounts.sms.FileBackend",
        SMS_FILE_PATH=str(tmp / "sms.jsonl"),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    return env


@pytest.fixture
def server(tmp_path):
    env = _environment(tmp_path)
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stderr
    port = _free_port()
    log = tmp_path / "access.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "portal.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "120",
         "--access-logfile", str(log), "--error-logfile", str(tmp_path / "error.log")],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        browser = Browser(port)
        deadline = time.monotonic() + 60
        while True:
            try:
                if browser.get("/accounts/login/").status == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, (tmp_path / "error.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.3)
        browser.log, browser.sms = log, tmp_path / "sms.jsonl"
        yield browser
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


class Response:
    def __init__(self, raw: http.client.HTTPResponse):
        self.status = raw.status
        self.headers = raw.headers
        self.body = raw.read()
        self.text = self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


class Browser:
    """A client behind the bureau's proxy: HTTPS as the proxy says, the client's address in
    X-Forwarded-For, cookies kept (Secure ones too: the proxy spoke TLS to the real browser)."""

    def __init__(self, port: int, client_ip: str = "203.0.113.10"):
        self.port, self.client_ip, self.cookies = port, client_ip, SimpleCookie()

    def request(self, method, path, body=b"", headers=None, *, forwarded=None) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        cookie = "; ".join(f"{k}={m.value}" for k, m in self.cookies.items())
        all_headers = {
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": forwarded or f"198.51.100.99, {self.client_ip}",
            "Referer": f"https://{HOST}{path}",
            **({"Cookie": cookie} if cookie else {}),
            **(headers or {}),
        }
        conn.request(method, path, body=body, headers=all_headers)
        response = Response(conn.getresponse())
        conn.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            self.cookies.load(value)
        return response

    def get(self, path, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post_form(self, path, data: dict, **kwargs) -> Response:
        token = self._csrf(path)
        form = "&".join(
            f"{k}={_quote(v)}" for k, v in {**data, "csrfmiddlewaretoken": token}.items()
        )
        return self.request(
            "POST", path, form.encode(),
            {"Content-Type": "application/x-www-form-urlencoded"}, **kwargs,
        )  # fmt: skip

    def _csrf(self, path) -> str:
        page = self.get(path)
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert found, (path, page.status, page.text[:500])
        return found.group(1)


def _quote(value) -> str:
    from urllib.parse import quote_plus

    return quote_plus(str(value))


def _signed(path: str, payload: dict, *, key: str) -> tuple[bytes, dict]:
    raw = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    digest = hashlib.sha256(raw).hexdigest()
    message = "\n".join(("2", timestamp, "POST", path, key, digest))
    signature = hmac.new(b"demo-secret-js-hosp-001", message.encode(), "sha256").hexdigest()
    return raw, {
        "Content-Type": "application/json",
        "X-Institution-Code": "JS-HOSP-001",
        "X-Timestamp": timestamp,
        "X-Signature-Version": "2",
        "X-Signature": signature,
        "Idempotency-Key": key,
    }


def _lock_and_kill(sql: str, params, call):
    """Hold a row lock from another connection, run `call` in a thread until its request waits
    on that lock, kill the request's database connection, then let go. Returns call's result."""
    db = connection.settings_dict
    holder = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=False
    )
    result = {}
    try:
        holder.execute(sql, params)
        thread = threading.Thread(target=lambda: result.setdefault("r", call()), daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        victims = []
        while not victims:
            assert time.monotonic() < deadline, "the request never waited on the lock"
            time.sleep(0.05)
            victims = holder.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            ).fetchall()
        for (pid,) in victims:
            holder.execute("SELECT pg_terminate_backend(%s)", [pid])
        thread.join(60)
        assert not thread.is_alive()
    finally:
        holder.rollback()
        holder.close()
    return result["r"]


def test_production_settings_with_redis_closed_behind_a_proxy_and_a_killed_database(server):
    load_demo()
    cast = people()
    # The test settings hash with MD5 for speed; production knows only its own hashers.
    for name in ("王丽", "王建国"):
        user = cast[name].user
        user.password = PBKDF2PasswordHasher().encode(CITIZEN_PASSWORD, "prod-settings-salt")
        user.save(update_fields=["password"])
    bind(cast["王建国"], req(cast["王丽"], Relation.CHILD), at=None)  # waits for her consent
    consent = live(cast["王建国"], cast["王丽"])
    letter = CommitmentLetter.objects.filter(holder=cast["王建国"]).first()

    # Redis closed: the pages that rate-limit work (they were 500s).
    page = server.get(f"/verify/{letter.verification_code}")
    assert page.status == 200, page.text[:300]
    assert server.get("/verify/NOSUCHCODE99").status == 404
    home = server.get("/")
    assert home.status == 200
    assert "script-src 'self'" in home.headers["Content-Security-Policy"]
    assert "no-store" in home.headers["Cache-Control"]
    assert home.headers["Strict-Transport-Security"].startswith("max-age=")

    # Activation, both steps, the code read from the SMS file backend.
    son = cast["王小明"]
    step1 = server.post_form(
        "/accounts/activate/", {"id_number": son.id_number, "name": son.name, "phone": son.phone}
    )
    assert step1.status == 302, step1.text[:500]
    code = re.search(r"验证码(\d{6})", server.sms.read_text().splitlines()[-1]).group(1)
    step2 = server.post_form(
        step1.headers["Location"],
        {"code": code, "password1": "Xiaoming-2026!", "password2": "Xiaoming-2026!"},
    )
    assert step2.status == 302, step2.text[:500]
    assert InsuredPerson.objects.get(pk=son.pk).user_id is not None

    # The consent answer with the password, as 王丽.
    daughter = Browser(server.port, client_ip="203.0.113.20")
    login = daughter.post_form(
        "/accounts/login/", {"username": cast["王丽"].id_number, "password": CITIZEN_PASSWORD}
    )
    assert login.status == 302, login.text[:300]
    answer = daughter.post_form(
        f"/family/consents/{consent.public_id}/",
        {"password": CITIZEN_PASSWORD, "answer": "agree"},
    )
    assert answer.status == 302, answer.text[:500]
    consent.refresh_from_db()
    assert consent.status in Authorization.GRANTED_STATUSES

    # Behind the proxy: a failure is counted under the client's address, not the proxy's,
    # and not under what the client wrote into the header itself.
    stranger = Browser(server.port, client_ip="203.0.113.77")
    stranger.post_form("/accounts/login/", {"username": cast["张伟"].id_number, "password": "x"})
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["203.0.113.77"]

    # The database killed while a settlement waits on the holder's account: 503, nothing paid.
    account = LedgerAccount.objects.get(person=cast["王建国"])
    path = "/api/v1/settlements"
    raw, headers = _signed(
        path,
        {"patient_id_number": son.id_number, "category": "outpatient", "amount": "50.00",
         "occurred_at": timezone.now().isoformat(), "items": []},
        key=f"killed-{uuid.uuid4().hex}",
    )  # fmt: skip
    killed = _lock_and_kill(
        "SELECT 1 FROM payments_ledgeraccount WHERE id = %s FOR UPDATE",
        [account.pk],
        lambda: server.request("POST", path, raw, headers),
    )
    assert killed.status == 503, killed.text
    assert killed.json()["error"]["code"] == "service_unavailable"
    assert killed.headers["Retry-After"]
    assert Settlement.objects.count() == 0
    again = server.request("POST", path, raw, headers)  # the same bytes, retried
    assert again.status == 201, again.text
    assert Settlement.objects.count() == 1

    # The same for a page: a revoke waiting on the authorization is a 503 "try again".
    holder = Browser(server.port, client_ip="203.0.113.30")
    holder.post_form(
        "/accounts/login/", {"username": cast["王建国"].id_number, "password": CITIZEN_PASSWORD}
    )
    father = live(cast["王建国"], cast["王德胜"])
    revoke = f"/family/authorizations/{father.public_id}/revoke/"
    token = holder._csrf(revoke)
    form = f"reason=&csrfmiddlewaretoken={token}".encode()
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    killed = _lock_and_kill(
        "SELECT 1 FROM family_authorization WHERE id = %s FOR UPDATE",
        [father.pk],
        lambda: holder.request("POST", revoke, form, form_headers),
    )
    assert killed.status == 503, killed.text[:500]
    assert "请稍后重试" in killed.text
    father.refresh_from_db()
    assert father.is_live
    assert holder.request("POST", revoke, form, form_headers).status == 302
    father.refresh_from_db()
    assert father.status == Authorization.Status.REVOKED

    # Nothing above put an identity number into a URL the access log keeps.
    log = server.log.read_text()
    assert "/accounts/activate/" in log and "/api/v1/settlements" in log
    assert not FULL_ID_NUMBER.search(log), log
    assert get_user_model().objects.filter(is_superuser=True).exists()  # the demo is intact
