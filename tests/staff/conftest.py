"""Fixtures for the staff console (issue 6); the demo cast with its staff users is `demo`
(tests/conftest.py: `demo["王建国"]`, `demo.staff["js_clerk"]`)."""

import pytest


@pytest.fixture
def scan_root(settings, tmp_path):
    """Counter scans are stored under a temporary directory."""
    root = tmp_path / "scans"
    settings.COUNTER_SCAN_ROOT = root
    return root
