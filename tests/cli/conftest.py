"""Run the console script the way a person does: a separate process, exit code, stderr."""

from __future__ import annotations

import pytest

from tests.helpers import REPO, run_cli

__all__ = ["REPO", "run_cli"]


@pytest.fixture
def cli():
    return run_cli
