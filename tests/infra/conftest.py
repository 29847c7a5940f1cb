"""Fixtures of the infra tests: the parsed terraform folder, parsed once per session."""

from __future__ import annotations

import pytest

from tests.infra.tfmodel import Terraform, load


@pytest.fixture(scope="session")
def tf() -> Terraform:
    """Every terraform/*.tf file, parsed."""
    return load()
