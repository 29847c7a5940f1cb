"""Fixtures every test shares."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from singer_tasks.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Settings are read once per process; a test that sets SINGER_* variables sees them on first use."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def unchanged_environment() -> Iterator[None]:
    """Each test leaves the process environment as it found it. An in-process embedded stack (the soak
    and load harnesses) points TASKKIT_DATA_DIR and TASKKIT_PUBLIC_URL at itself, as
    `python -m taskkit run` must; left behind, a later test's subprocess stack would sign its URLs for a
    stack that is gone."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)
