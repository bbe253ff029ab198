"""The SMS interface (accounts.sms): development backends and the deploy check that asks an
operator for a real gateway."""

import json
import logging

from django.core.checks import run_checks

from accounts import sms


def test_send_sms_uses_the_configured_backend(settings):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    sms.send_sms(phone="13800000003", text="验证码123456")
    assert [(m.phone, m.text) for m in sms.outbox] == [("13800000003", "验证码123456")]


def test_the_outbox_is_empty_at_the_start_of_each_test():
    assert sms.outbox == []


def test_console_backend_masks_the_phone_and_shows_the_text(settings, caplog):
    settings.SMS_BACKEND = "accounts.sms.ConsoleBackend"
    with caplog.at_level(logging.INFO, logger="accounts.sms"):
        sms.send_sms(phone="13800000003", text="【家庭共济】验证码123456")
    assert caplog.messages == ["SMS to 138****0003: 【家庭共济】验证码123456"]
    assert "13800000003" not in caplog.text


def test_file_backend_appends_one_json_line_per_message(settings, tmp_path):
    settings.SMS_BACKEND = "accounts.sms.FileBackend"
    settings.SMS_FILE_PATH = tmp_path / "sub" / "sms.jsonl"
    sms.send_sms(phone="13800000003", text="验证码111111")
    sms.send_sms(phone="13800000006", text="验证码222222")
    lines = [json.loads(line) for line in settings.SMS_FILE_PATH.read_text().splitlines()]
    assert [(m["phone"], m["text"]) for m in lines] == [
        ("13800000003", "验证码111111"),
        ("13800000006", "验证码222222"),
    ]
    assert all(m["sent_at"] for m in lines)


def _ids(**kwargs) -> list[str]:
    return [message.id for message in run_checks(**kwargs) if message.id.startswith("accounts.")]


def test_deploy_check_warns_about_a_development_backend_without_debug(settings):
    settings.DEBUG = False
    for backend in ("ConsoleBackend", "FileBackend", "LocmemBackend"):
        settings.SMS_BACKEND = f"accounts.sms.{backend}"
        assert _ids(include_deployment_checks=True) == ["accounts.W001"], backend
        assert _ids() == []  # only `check --deploy` asks


def test_deploy_check_is_quiet_with_a_gateway_or_under_debug(settings):
    settings.DEBUG = False
    settings.SMS_BACKEND = "tests.accounts.sms_doubles.GatewayStandIn"
    assert _ids(include_deployment_checks=True) == []
    settings.DEBUG = True
    settings.SMS_BACKEND = "accounts.sms.ConsoleBackend"
    assert _ids(include_deployment_checks=True) == []


def test_a_backend_that_cannot_be_imported_is_an_error(settings):
    settings.SMS_BACKEND = "accounts.sms.NoSuchBackend"
    assert _ids() == ["accounts.E001"]
