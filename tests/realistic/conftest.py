"""Real Prometheus servers holding the kube-prometheus-stack layouts of ``kps_layout``.

One server per variant, started the first time a test asks for it and kept for the session
(each backfill takes about a second: the cluster is small).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.servers import PrometheusServer
from tests.realistic.kps_layout import END, VARIANTS, Layout, Truth, build_truth, write_layout_file

#: Most tests read a 6-hour window at 30 s scrapes; the long one 14 days at 5-minute scrapes.
WINDOW_HOURS = 6.0
LONG_DAYS = 14
LONG_SCRAPE_SECONDS = 300.0


@dataclass(frozen=True)
class KpsServer:
    """A real Prometheus holding one layout of the truth."""

    layout: Layout
    truth: Truth
    url: str
    series: int
    samples: int


@pytest.fixture(scope="session")
def kps_truth() -> Truth:
    return build_truth(end=END, hours=WINDOW_HOURS)


@pytest.fixture(scope="session")
def kps_server(
    tmp_path_factory: pytest.TempPathFactory, kps_truth: Truth
) -> Iterator[Callable[[str], KpsServer]]:
    """``kps_server("default")`` etc.: the variant's server, started on first use."""
    started: dict[str, tuple[PrometheusServer, KpsServer]] = {}

    def get(variant: str) -> KpsServer:
        if variant not in started:
            if variant == "long":
                layout = Layout("long", scrape_interval_seconds=LONG_SCRAPE_SECONDS)
                truth = build_truth(end=END, hours=24 * LONG_DAYS)
            elif variant == "old-ksm":  # kube-state-metrics before the HPA container label
                layout, truth = Layout("old-ksm", ksm_version="v2.18.0"), kps_truth
            else:
                layout, truth = VARIANTS[variant], kps_truth
            workdir = tmp_path_factory.mktemp(f"kps-{variant}")
            export = Path(workdir) / "layout.om"
            series, samples = write_layout_file(layout, truth, export)
            server = PrometheusServer(export, workdir)
            export.unlink()
            started[variant] = (server, KpsServer(layout, truth, server.url, series, samples))
        return started[variant][1]

    yield get
    for server, _ in started.values():
        server.stop()
