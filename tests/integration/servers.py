"""Real and fake HTTP servers for the Prometheus source tests.

* :class:`PrometheusServer`: Debian's ``/usr/bin/prometheus`` on 127.0.0.1, its TSDB backfilled
  from the demo's OpenMetrics export with ``promtool tsdb create-blocks-from openmetrics``.
* :class:`PushgatewayServer`: Debian's ``/usr/bin/prometheus-pushgateway`` (what ``export``
  pushes to).
* :class:`ScrapingPrometheusServer`: a real Prometheus scraping given targets every second
  (with ``honor_labels``, as a Pushgateway must be scraped).
* :class:`VictoriaMetricsServer`: ``/usr/bin/victoria-metrics``, loaded through
  ``/api/v1/import/prometheus`` (streamed) and flushed.
* :class:`CountingProxy`: a reverse proxy that counts the requests reaching the server.
* :class:`FaultServer`: answers every request with one chosen fault (500, 404, slow, ...).
* :class:`SigV4CheckingServer`: answers only requests whose SigV4 signature verifies.
* :func:`moto_server` and :func:`use_test_aws_credentials`: AWS through moto in server mode
  (real HTTP on 127.0.0.1), and an environment that can only ever reach it.

A missing binary is a test failure that says which apt-get command installs it.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode, urlsplit

import pytest
import requests

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
VICTORIA_METRICS = "/usr/bin/victoria-metrics"
PUSHGATEWAY = "/usr/bin/prometheus-pushgateway"

EMPTY_RESULT = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})


def require_binary(path: str, package: str) -> str:
    """``path`` if it is installed; otherwise fail the test with the command that installs it."""
    if not Path(path).is_file() and shutil.which(Path(path).name) is None:
        pytest.fail(
            f"{path} is not installed; run: sudo apt-get install -y {package} (or `make servers`)",
            pytrace=False,
        )
    return path if Path(path).is_file() else str(shutil.which(Path(path).name))


def self_signed_tls(workdir: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 with a fresh self-signed certificate, and its PEM."""
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if it exits or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)  # polling a readiness endpoint, not timing a test
    process.kill()
    pytest.fail(f"server at {url} not ready after {timeout}s: {log.read_text()[-2000:]}")


class ServerProcess:
    """A server a fixture started as a subprocess at ``url``; :meth:`stop` ends it."""

    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class PrometheusServer(ServerProcess):
    """A real Prometheus serving a backfilled TSDB (no scraping)."""

    def __init__(self, openmetrics_file: Path, workdir: Path) -> None:
        promtool = require_binary(PROMTOOL, "prometheus")
        prometheus = require_binary(PROMETHEUS, "prometheus")
        data = workdir / "tsdb"
        data.mkdir(parents=True)
        # 72 h blocks: promtool's default 2 h blocks are ~30x slower to create (DESIGN.md).
        subprocess.run(
            [
                promtool,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "--max-block-duration=72h",
                str(openmetrics_file),
                str(data),
            ],
            check=True,
            capture_output=True,
        )
        config = workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1h\n")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / "prometheus.log"
        self.process = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=100y",
            ],  # backfilled data is old: keep it
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )
        wait_until_ready(f"{self.url}/-/ready", self.process, self.log)


class PushgatewayServer(ServerProcess):
    """A real Pushgateway (in memory: no persistence file)."""

    def __init__(self, workdir: Path) -> None:
        binary = require_binary(PUSHGATEWAY, "prometheus-pushgateway")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.address = f"127.0.0.1:{port}"
        self.log = workdir / "pushgateway.log"
        self.process = subprocess.Popen(
            # Debian's default persists to /var/lib/prometheus/pushgateway.data, which would
            # carry pushes from one test run (and one fixture) into the next: memory only.
            [
                binary,
                f"--web.listen-address=127.0.0.1:{port}",
                "--persistence.file=",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )
        wait_until_ready(f"{self.url}/-/ready", self.process, self.log)


class ScrapingPrometheusServer(ServerProcess):
    """A real Prometheus scraping ``targets`` (host:port) every second, labels honoured."""

    def __init__(self, targets: list[str], workdir: Path) -> None:
        prometheus = require_binary(PROMETHEUS, "prometheus")
        config = workdir / "prometheus-scrape.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n"
            f"    static_configs:\n      - targets: {json.dumps(targets)}\n"
        )
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / "prometheus-scrape.log"
        self.process = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'scrape-tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )
        wait_until_ready(f"{self.url}/-/ready", self.process, self.log)

    def query(self, expr: str) -> dict[str, Any]:
        """The JSON answer of an instant query (status and data, or errorType and error)."""
        response = requests.post(f"{self.url}/api/v1/query", data={"query": expr}, timeout=30)
        answer: dict[str, Any] = response.json()
        return answer

    def wait_for(self, expr: str, timeout: float = 30) -> list[dict[str, Any]]:
        """Poll ``expr`` until it returns series (a scrape happened); fail with the log if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.query(expr)
            if answer.get("status") == "success" and answer["data"]["result"]:
                result: list[dict[str, Any]] = answer["data"]["result"]
                return result
            time.sleep(0.2)  # polling for the next scrape, not timing a test
        pytest.fail(f"no series for {expr} after {timeout}s: {self.log.read_text()[-2000:]}")


class VictoriaMetricsServer(ServerProcess):
    """A real single-node VictoriaMetrics."""

    def __init__(
        self, workdir: Path, extra_flags: tuple[str, ...] = (), response_cache: bool = False
    ) -> None:
        """``response_cache``: keep VictoriaMetrics' rollup result cache (on by default in a
        deployed server; off here unless asked, so one request never answers from another's
        work); :meth:`reset_response_cache` empties it."""
        binary = require_binary(VICTORIA_METRICS, "victoria-metrics")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / "victoria-metrics.log"
        self.process = subprocess.Popen(
            [
                binary,
                f"-storageDataPath={workdir / 'vm-data'}",
                f"-httpListenAddr=127.0.0.1:{port}",
                "-retentionPeriod=100y",
                *(() if response_cache else ("-search.disableCache",)),
                *extra_flags,
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )
        wait_until_ready(f"{self.url}/health", self.process, self.log)

    def reset_response_cache(self) -> None:
        requests.get(f"{self.url}/internal/resetRollupResultCache", timeout=60).raise_for_status()

    def import_prometheus_text(self, path: Path) -> None:
        """Stream a Prometheus text file (millisecond timestamps) into the server, then flush."""
        with path.open("rb") as body:  # a file object: requests streams it, never buffers it all
            response = requests.post(f"{self.url}/api/v1/import/prometheus", data=body, timeout=300)
        response.raise_for_status()
        requests.get(f"{self.url}/internal/force_flush", timeout=60).raise_for_status()


class _QuietHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_body(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 in a daemon thread, usable as a context manager."""

    def __init__(
        self,
        handler: type[http.server.BaseHTTPRequestHandler],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        scheme = "http"
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, raw path, headers)
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def record(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests.append((handler.command, handler.path, dict(handler.headers.items())))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CountingProxy(_Server):
    """Forwards every request to ``upstream`` and counts them by path (server-side count).

    With ``reject``, a query containing that text is answered 400 ``bad_data`` the way an older
    Prometheus refuses syntax it does not know (e.g. ``@`` before 2.25), and not forwarded.
    """

    def __init__(self, upstream: str, reject: str | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.session = requests.Session()
        self.reject = reject
        self.rejected = 0

        class Handler(_QuietHandler):
            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def _forward(self) -> None:
                owner: CountingProxy = self.server.owner  # type: ignore[attr-defined]
                owner.record(self)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                asked = unquote_plus(urlsplit(self.path).query + "&" + (body or b"").decode())
                if owner.reject is not None and owner.reject in asked:
                    with owner.lock:
                        owner.rejected += 1
                    error = {
                        "status": "error",
                        "errorType": "bad_data",
                        "error": f'1:1: parse error: unexpected "{owner.reject}"',
                    }
                    self.send_body(400, json.dumps(error).encode())
                    return
                upstream = owner.session.request(
                    self.command,
                    owner.upstream + self.path,
                    data=body,
                    headers={"Content-Type": self.headers.get("Content-Type", "")}
                    if body
                    else None,
                    timeout=120,
                )
                self.send_body(upstream.status_code, upstream.content)

        super().__init__(Handler)

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(urlsplit(path).path for _method, path, _headers in self.requests)

    def total(self) -> int:
        with self.lock:
            return len(self.requests)


class FaultServer(_Server):
    """Every request gets the same fault.

    Modes: ``500`` (always), ``404`` (wrong path), ``slow`` (never answers before the client's
    timeout: it waits on an event that is set on close), ``truncated_json`` (a cut-off JSON body
    with a matching Content-Length), ``cut_body`` (Content-Length promises more than is sent),
    ``429_then_ok`` (429 with Retry-After: 0 once, then empty results), ``html`` (a proxy's
    login page), ``401``.
    """

    def __init__(self, mode: str, tls: ssl.SSLContext | None = None) -> None:
        self.mode = mode
        self.release = threading.Event()
        self.served = 0

        class Handler(_QuietHandler):
            def do_GET(self) -> None:
                owner: FaultServer = self.server.owner  # type: ignore[attr-defined]
                owner.record(self)
                with owner.lock:
                    owner.served += 1
                    served = owner.served
                mode = owner.mode
                if mode == "500":
                    self.send_body(500, b'{"status":"error","error":"internal failure"}')
                elif mode == "401":
                    self.send_body(401, b"Unauthorized")
                elif mode == "404":
                    self.send_body(404, b"404 page not found\n")
                elif mode == "slow":
                    owner.release.wait(30)
                    self.send_body(200, EMPTY_RESULT.encode())
                elif mode == "truncated_json":
                    self.send_body(200, EMPTY_RESULT.encode()[:40])
                elif mode == "cut_body":
                    body = EMPTY_RESULT.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body) + 500))
                    self.end_headers()
                    self.wfile.write(body[:30])
                    self.wfile.flush()
                    self.close_connection = True
                elif mode == "html":
                    self.send_body(200, b"<html><body>Please log in</body></html>")
                elif mode == "429_then_ok":
                    if served == 1:
                        self.send_body(429, b"slow down", {"Retry-After": "0"})
                    else:
                        self.send_body(200, EMPTY_RESULT.encode())
                else:
                    self.send_body(200, EMPTY_RESULT.encode())

            do_POST = do_GET

        super().__init__(Handler, tls)

    def close(self) -> None:
        self.release.set()
        super().close()


class SigV4CheckingServer(_Server):
    """Answers 200 only to requests whose SigV4 signature (service ``aps``) verifies.

    The server re-signs what it received (method, raw path and query, host, x-amz-date) with the
    same credentials and compares signatures, as AWS does: the canonical query it builds from
    the raw query string must match the client's, which fails if spaces went out as ``+``.
    """

    def __init__(self, access_key: str, secret_key: str, region: str) -> None:
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.failures: list[str] = []

        class Handler(_QuietHandler):
            def do_GET(self) -> None:
                owner: SigV4CheckingServer = self.server.owner  # type: ignore[attr-defined]
                owner.record(self)
                problem = owner.check(self)
                if problem:
                    owner.failures.append(problem)
                    self.send_body(403, json.dumps({"message": problem}).encode())
                else:
                    self.send_body(200, EMPTY_RESULT.encode())

        super().__init__(Handler)

    def check(self, handler: http.server.BaseHTTPRequestHandler) -> str | None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        authorization = handler.headers.get("Authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return "no SigV4 Authorization header"
        scope = f"Credential={self.access_key}/"
        if scope not in authorization or f"/{self.region}/aps/aws4_request" not in authorization:
            return f"wrong credential scope in {authorization.split(',')[0]}"
        # Canonicalise the query as AWS does: decode it (a '+' is a space), then percent-encode
        # every value (a space is %20). A client that signed '+' as '%2B' no longer matches.
        parts = urlsplit(handler.path)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if not pairs:
            return "empty query"
        query = urlencode(pairs, quote_via=quote, safe="-_.~")
        amz_date = handler.headers.get("X-Amz-Date", "")
        request = AWSRequest(
            method=handler.command,
            url=f"http://{handler.headers['Host']}{parts.path}?{query}",
            headers={"Host": handler.headers["Host"], "X-Amz-Date": amz_date},
            data=b"",
        )
        signer = SigV4Auth(Credentials(self.access_key, self.secret_key), "aps", self.region)
        request.context["timestamp"] = amz_date
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(string_to_sign, request)
        if f"Signature={expected}" not in authorization:
            return "signature mismatch"
        return None


@contextmanager
def moto_server() -> Iterator[str]:
    """moto in server mode on 127.0.0.1 at a free port; yields its URL, stops it on exit."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def use_test_aws_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **endpoints: str
) -> dict[str, str]:
    """Test credentials only: no profile and no real config or credentials file is read.

    ``endpoints`` are per-service endpoint URLs (``s3=url`` sets ``AWS_ENDPOINT_URL_S3``), so
    the code under test reaches moto through its ordinary boto3 client. Returns the variables set.
    """
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        **{f"AWS_ENDPOINT_URL_{service.upper()}": url for service, url in endpoints.items()},
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return env


def reset_moto(url: str) -> None:
    """Forget every resource a previous test made in the moto server at ``url``."""
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
