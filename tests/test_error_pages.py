"""A database gone mid-request is a 503 "try again" page; any other error a 500 page; neither
reads the database (issue 13). The real thing, a killed connection under gunicorn with the
production settings, is tests/integration/test_production_settings.py."""

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from accounts.views import DATABASE_UNAVAILABLE, SERVER_ERROR, server_error

pytestmark = pytest.mark.django_db  # to count its queries: none


def _answer(error):
    try:
        raise error
    except Exception:
        return server_error(RequestFactory().get("/family/"))


def test_a_lost_database_is_a_503_with_retry_after(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = _answer(OperationalError("server closed the connection unexpectedly"))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert str(DATABASE_UNAVAILABLE) in response.content.decode()


def test_any_other_error_is_a_500_without_details(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = _answer(KeyError("secret-internal-detail"))
    assert response.status_code == 500 and "Retry-After" not in response
    page = response.content.decode()
    assert str(SERVER_ERROR) in page and "secret-internal-detail" not in page
