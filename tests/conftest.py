"""Shared fixtures: a short demo snapshot, built once per session."""

from __future__ import annotations

import pytest

from kianax_capacity.snapshot import Snapshot


@pytest.fixture(scope="session")
def demo_snapshot() -> Snapshot:
    """Four days of the demo cluster: every behaviour shows, and it builds in well under a second."""
    from kianax_capacity.sources.demo import generate_demo_snapshot

    return generate_demo_snapshot(days=4)


@pytest.fixture(scope="session")
def demo_snapshot_full() -> Snapshot:
    """The default 21-day demo, for tests that need weeks of history."""
    from kianax_capacity.sources.demo import generate_demo_snapshot

    return generate_demo_snapshot()


@pytest.fixture(scope="session")
def demo_recommendations(demo_snapshot_full: Snapshot):
    """The recommendations of the default 21-day demo (every section filled, one forecast hit)."""
    from datetime import UTC, datetime

    from kianax_capacity.recommenders.engine import recommend

    return recommend(demo_snapshot_full, generated_at=datetime(2026, 11, 23, 6, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def _xdg_cache_home(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture(autouse=True)
def _private_cache_dir(_xdg_cache_home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fetches that use the default per-day cache write under a temporary XDG_CACHE_HOME, never
    into the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", _xdg_cache_home)
