"""Production settings pass `check --deploy`, and the `make run` path works on SQLite."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(args, env_changes, tmp_path=None):
    env = {
        k: v
        for k, v in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE is set for the Playwright tests only; a deployment never has it.
        if k
        not in {
            "DJANGO_SETTINGS_MODULE",
            "DATABASE_URL",
            "DEBUG",
            "REDIS_URL",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env.update(env_changes)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _production(**changes):
    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "gongji.example.gov.cn",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/portal",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        # The operator's SMS gateway (issue 13); a stand-in class here.
        "SMS_BACKEND": "tests.accounts.sms_doubles.GatewayStandIn",
        **changes,
    }


def test_check_deploy_is_clean_with_production_environment():
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], _production())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_warns_until_an_sms_gateway_is_configured():
    env = _production()
    del env["SMS_BACKEND"]  # the default: the console, which logs activation codes
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode != 0
    assert "accounts.W001" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = _run(
        ["check"],
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "ALLOWED_HOSTS": "gongji.example.gov.cn",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        },
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_make_run_path_migrates_and_seeds_a_fresh_sqlite_file(tmp_path):
    """What `make run` does before serving, on the embedded SQLite default."""
    env = {
        "DJANGO_SETTINGS_MODULE": "portal.settings.base",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    }
    for args in (
        ["migrate", "--noinput"],
        ["seed_demo", "--if-empty"],
        ["seed_demo", "--if-empty"],
    ):
        result = _run(args, env)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "already has people" in result.stdout
    result = _run(
        ["shell", "-c", "from accounts.models import InsuredPerson as P; print(P.objects.count())"],
        env,
    )
    assert result.stdout.strip().splitlines()[-1] == "14"  # the cast, 王秀兰 included (issue 15)
    # the scheduled passes beat runs there take the ORM writers off PostgreSQL (issue 16)
    result = _run(
        ["shell", "-c", "from wallet.services import transfers_return_due as r; print(r())"], env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0"
