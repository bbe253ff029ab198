"""Fixtures for the payments tests, on the demo cast of tests/conftest.py (`demo`)."""

import pytest

from payments.models import Institution


@pytest.fixture
def institutions(demo):
    return {i.code: i for i in Institution.objects.select_related("region")}
