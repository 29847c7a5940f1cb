"""Fixtures every test shares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from singer_tasks.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Settings are read once per process; a test that sets SINGER_* variables sees them on first use."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
