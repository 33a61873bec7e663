"""HTTP failures as data: PrometheusError carries the status, the query and the time it took,
and a timeout or 503 names the fixes (real HTTP servers on 127.0.0.1)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.errors import PrometheusError
from kianax_capacity.sources.prometheus import QueryRejectedError, fetch_prometheus_snapshot
from tests.integration.servers import FaultServer

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 23, tzinfo=UTC)
# Prometheus' own answer when a query exceeds its --query.timeout (web/api/v1: errorTimeout).
TIMED_OUT = b'{"status":"error","errorType":"timeout","error":"query timed out in query execution"}'
BAD_DATA = b'{"status":"error","errorType":"bad_data","error":"parse error: unexpected"}'


@pytest.fixture
def answering() -> Iterator[tuple[list[tuple[int, bytes]], str]]:
    """A server answering every request with the (status, body) at the list's head."""
    answers: list[tuple[int, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answers[0]
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield answers, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def fetch(url: str, out: Path, **changes: object) -> None:
    fetch_prometheus_snapshot(
        PrometheusConfig(url=url, max_retries=1, retry_backoff_seconds=0.0, **changes),  # type: ignore[arg-type]
        start=END - timedelta(hours=1),
        end=END,
        step_seconds=300,
        out=out,
    )


def test_503_names_the_query_the_time_and_the_fixes(
    answering: tuple[list[tuple[int, bytes]], str], tmp_path: Path
) -> None:
    answers, url = answering
    answers.append((503, TIMED_OUT))
    with pytest.raises(PrometheusError) as caught:
        fetch(url, tmp_path / "s")
    error = caught.value
    assert (error.status, error.query) == (503, "scrape_interval")
    assert error.elapsed_seconds is not None and error.elapsed_seconds >= 0
    message = str(error)
    assert "HTTP 503 after 2 attempts: query timed out in query execution" in message
    assert "query scrape_interval" in message and "s in all" in message
    for fix in ("`timeout_seconds`", "`shape` aggregate", "`namespace_regex`"):
        assert fix in message
    assert not (tmp_path / "s").exists()


def test_a_rejected_query_is_its_own_type_with_the_status(
    answering: tuple[list[tuple[int, bytes]], str], tmp_path: Path
) -> None:
    answers, url = answering
    answers.append((400, BAD_DATA))
    with pytest.raises(QueryRejectedError) as caught:
        fetch(url, tmp_path / "s")
    assert caught.value.status == 400
    assert "parse error: unexpected" in str(caught.value)


def test_a_timeout_names_the_query_the_time_it_took_and_the_fixes(tmp_path: Path) -> None:
    with FaultServer("slow") as server, pytest.raises(PrometheusError) as caught:
        fetch(server.url, tmp_path / "s", timeout_seconds=0.3)
    error = caught.value
    assert error.status is None and error.query == "scrape_interval"
    assert error.elapsed_seconds is not None and error.elapsed_seconds >= 0.6  # 2 attempts
    message = str(error)
    assert "did not answer scrape_interval within 0.3s (2 attempts," in message
    for fix in ("`timeout_seconds`", "`shape` aggregate", "`namespace_regex`"):
        assert fix in message
