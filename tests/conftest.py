"""Shared fixtures: the shipped model is loaded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def real_cleaner():
    from cleaner import default_cleaner

    return default_cleaner()


def need_shared(*parts: str) -> Path:
    """The path under ../shared, or skip the test when the shared data is not beside the repo."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: these tests need ../shared beside the repository")
    return path
