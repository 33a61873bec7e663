"""Session fixtures of the fault suite: one real Prometheus (restartable) and the fault proxy.

The Prometheus holds two windows that do not overlap: six hours of the demo cluster ending at
the demo's end (for fetches compared with and without faults) and the hand-built data-fault
cluster of :mod:`tests.faults.datafaults` (namespace ``faults``, 12 hours ending 2026-11-10).
Both are backfilled with promtool in well under a second, so the suite does not wait on the
integration suite's 3-day fixture.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kianax_capacity.sources.demo import DEFAULT_END
from kianax_capacity.sources.openmetrics import write_demo_openmetrics
from tests.faults import datafaults
from tests.faults.proxy import FaultProxy
from tests.integration.servers import (
    PROMETHEUS,
    PROMTOOL,
    ServerProcess,
    free_port,
    require_binary,
    wait_until_ready,
)

DEMO_END: datetime = DEFAULT_END
DEMO_HOURS = 6
DEMO_STEP_SECONDS = 300
#: The window every demo fetch of the suite reads (the last 2 hours of the demo data).
FETCH_START: datetime = DEMO_END - timedelta(hours=2)


class RestartablePrometheus(ServerProcess):
    """A real Prometheus on backfilled blocks that a test can kill and start again."""

    def __init__(self, openmetrics_files: list[Path], workdir: Path) -> None:
        promtool = require_binary(PROMTOOL, "prometheus")
        self.binary = require_binary(PROMETHEUS, "prometheus")
        self.data = workdir / "tsdb"
        self.data.mkdir(parents=True)
        for file in openmetrics_files:
            subprocess.run(
                [
                    promtool,
                    "tsdb",
                    "create-blocks-from",
                    "openmetrics",
                    "--max-block-duration=72h",
                    str(file),
                    str(self.data),
                ],
                check=True,
                capture_output=True,
            )
        self.config = workdir / "prometheus.yml"
        self.config.write_text("global:\n  scrape_interval: 1h\n")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "prometheus.log"
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.data}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=100y",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
        )
        wait_until_ready(f"{self.url}/-/ready", self.process, self.log)

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a node loss would: no graceful shutdown."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def ensure_running(self) -> None:
        if self.process.poll() is not None:
            self.start()


@pytest.fixture(scope="session")
def fault_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartablePrometheus]:
    workdir = tmp_path_factory.mktemp("fault-prometheus")
    demo = workdir / "demo.om"
    write_demo_openmetrics(demo, end=DEMO_END, days=DEMO_HOURS / 24, step_seconds=DEMO_STEP_SECONDS)
    faults = datafaults.write(workdir / "faults.om")
    server = RestartablePrometheus([demo, faults], workdir)
    demo.unlink()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def session_proxy(fault_prometheus: RestartablePrometheus) -> Iterator[FaultProxy]:
    with FaultProxy(fault_prometheus.url) as proxy:
        yield proxy


@pytest.fixture
def proxy(
    session_proxy: FaultProxy, fault_prometheus: RestartablePrometheus
) -> Iterator[FaultProxy]:
    """The session's proxy, fault-free and with an empty log at the start of each test."""
    fault_prometheus.ensure_running()
    session_proxy.reset()
    yield session_proxy
    session_proxy.reset()
