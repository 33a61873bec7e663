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
