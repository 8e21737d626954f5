"""Shared fixtures: the repo root and a scratch working directory for stage runs."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run a stage in an empty directory: stages write metrics/ and plots/ relative to cwd."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
