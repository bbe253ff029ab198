"""Fixtures for the family tests; the demo cast is `demo` / `demo_unbound` (tests/conftest.py)."""

import pytest

from tests.factories import StaffUserFactory


@pytest.fixture
def staff(db):
    return StaffUserFactory()
