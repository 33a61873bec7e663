"""Faults between the Prometheus source and its server: each ends in one clear line.

Every fault must give a one-line PrometheusError (exit code 1) naming the server without
credentials and saying what to check, and leave nothing where the snapshot would have gone.
The servers are local (tests/integration/servers.py); timeouts are short and retries have no
backoff, so the suite stays fast without sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.errors import PrometheusError
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot
from tests.integration.servers import FaultServer, free_port

pytestmark = pytest.mark.faults

END = datetime(2026, 11, 23, tzinfo=UTC)
TOKEN = "s3cr3t-token-value"
PASSWORD = "hunter2-password"


def config(url: str, **changes: object) -> PrometheusConfig:
    values: dict[str, object] = {
        "url": url,
        "timeout_seconds": 0.5,
        "max_retries": 1,
        "retry_backoff_seconds": 0.0,
        "concurrency": 2,
    }
    values.update(changes)
    return PrometheusConfig(**values)  # type: ignore[arg-type]


def fetch(cfg: PrometheusConfig, out: Path, environ: dict[str, str] | None = None) -> None:
    fetch_prometheus_snapshot(
        cfg,
        start=END - timedelta(hours=1),
        end=END,
        step_seconds=300,
        out=out,
        environ=environ or {},
    )


def assert_clean_failure(error: PrometheusError, out: Path, url: str, *expected: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert url in message
    for text in expected:
        assert text in message, message
    for secret in (TOKEN, PASSWORD):
        assert secret not in message
    assert error.exit_code == 1
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no temporary folder left behind either


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "parent"
    folder.mkdir()
    return folder / "snapshot"


def test_connection_refused(out: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(PrometheusError) as caught:
        fetch(config(url), out)
    assert_clean_failure(caught.value, out, url, "cannot connect", "connection refused", "`url`")


def test_server_down_by_name(out: Path) -> None:
    url = "http://prometheus.invalid:9090"
    with pytest.raises(PrometheusError) as caught:
        fetch(config(url), out)
    assert_clean_failure(caught.value, out, url, "cannot connect", "`url`")


def test_500_is_retried_a_bounded_number_of_times(out: Path) -> None:
    with FaultServer("500") as server:
        with pytest.raises(PrometheusError) as caught:
            fetch(config(server.url, max_retries=2), out)
        assert len(server.requests) == 3  # the first query, retried twice, then given up
    assert_clean_failure(
        caught.value, out, server.url, "HTTP 500", "3 attempts", "internal failure"
    )


def test_404_names_the_url_path_to_check(out: Path) -> None:
    with FaultServer("404") as server:
        with pytest.raises(PrometheusError) as caught:
            fetch(config(server.url + "/wrong/prefix"), out)
        assert len(server.requests) == 1  # a 404 is not retried
    assert_clean_failure(
        caught.value, out, server.url + "/wrong/prefix", "404", "URL path", "/prometheus"
    )


def test_slow_server_times_out(out: Path) -> None:
    with FaultServer("slow") as server:
        with pytest.raises(PrometheusError) as caught:
            fetch(config(server.url, timeout_seconds=0.3, max_retries=1), out)
        assert len(server.requests) == 2  # timeouts are retried too, boundedly
    assert_clean_failure(caught.value, out, server.url, "did not answer", "0.3s", "timeout_seconds")


@pytest.mark.parametrize("mode", ["truncated_json", "html"])
def test_a_body_that_is_not_prometheus_json(mode: str, out: Path) -> None:
    with FaultServer(mode) as server, pytest.raises(PrometheusError) as caught:
        fetch(config(server.url), out)
    assert_clean_failure(caught.value, out, server.url, "not Prometheus API JSON")


def test_a_connection_cut_mid_body(out: Path) -> None:
    with FaultServer("cut_body") as server, pytest.raises(PrometheusError) as caught:
        fetch(config(server.url), out)
    assert_clean_failure(caught.value, out, server.url, "truncated")


def test_credentials_never_reach_the_message(out: Path) -> None:
    with FaultServer("401") as server:
        host = server.url.removeprefix("http://")
        url_with_userinfo = f"http://admin:{PASSWORD}@{host}"
        with pytest.raises(PrometheusError) as caught:
            fetch(
                config(url_with_userinfo, auth="bearer", bearer_token_env="PROM_TOKEN"),
                out,
                environ={"PROM_TOKEN": TOKEN},
            )
        assert server.requests[0][2]["Authorization"] == f"Bearer {TOKEN}"
    assert_clean_failure(caught.value, out, server.url, "401", "`auth`")
    assert "admin" not in str(caught.value)


def test_429_with_retry_after_is_honoured_then_succeeds(tmp_path: Path) -> None:
    with FaultServer("429_then_ok") as server:
        fetch(config(server.url, concurrency=1), tmp_path / "snapshot")
    assert (tmp_path / "snapshot" / "manifest.json").is_file()


def test_a_failed_fetch_keeps_the_previous_snapshot(tmp_path: Path) -> None:
    target = tmp_path / "snapshot"
    with FaultServer("ok") as good:
        fetch(config(good.url), target)
    before = (target / "manifest.json").read_text()
    with FaultServer("500") as bad, pytest.raises(PrometheusError):
        fetch(config(bad.url), target)
    assert (target / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot"]
