"""HTTP: the Prometheus query API on one ``requests`` session, bounded retries, typed errors.

The session is the project's own (auth, headers and TLS from :mod:`.auth`, retries from
urllib3's ``Retry``); answers are parsed with orjson. Every third-party failure (requests,
urllib3, a body that is not the API's JSON) is turned into a
:class:`~kianax_capacity.errors.PrometheusError` here and nowhere else, with what failed as
data (``status``, ``query``, ``elapsed_seconds``) beside a one-line message that names the
server (never a credential) and what to check.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.errors import PrometheusError, QueryRejectedError, UserInputError
from kianax_capacity.sources.prometheus._memory import GC_PAUSED
from kianax_capacity.sources.prometheus.auth import (
    auth_secrets,
    build_auth,
    build_headers,
    configure_tls,
    redact_url,
)
from kianax_capacity.sources.prometheus.plan import QueryJob
from kianax_capacity.sources.prometheus.promql import format_duration

__all__ = ["RESPONSE_CACHE_BYPASS", "PrometheusClient", "QueryRejectedError"]

_LOGGER = logging.getLogger(__name__)
_RETRIED_STATUSES = (429, 500, 502, 503, 504)
#: Where the per-request timeout is set, named in the messages of timeouts (a mention the CLI
#: shows as its flag, see errors.respell).
_TIMEOUT_FIX = "`timeout_seconds` ([prometheus] timeout_seconds)"


class _BoundedRetry(Retry):
    """urllib3 Retry that honours Retry-After but never waits longer than a cap."""

    max_retry_after: float = 30.0

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), self.max_retry_after)


#: Sent with every query. VictoriaMetrics answers from its response cache unless told not to,
#: and a deployed one has it on. Measured on the 1k benchmark cluster (docs/scaling.md): with
#: the cache the season statistics lost 12-14 of 52,000 rows, differently from one fetch to
#: the next, and the fetch cost the server twice the CPU. A fetch never repeats a request (the
#: per-day cache is ours), so it asks for fresh answers. Prometheus ignores the argument.
RESPONSE_CACHE_BYPASS: Mapping[str, str] = MappingProxyType({"nocache": "1"})


def _make_retry(config: PrometheusConfig) -> Retry:
    class _CappedRetry(_BoundedRetry):
        max_retry_after = config.max_retry_after_seconds

    attempts = max(0, config.max_retries)
    return _CappedRetry(
        total=attempts,
        connect=attempts,
        read=attempts,
        status=attempts,
        other=0,
        backoff_factor=config.retry_backoff_seconds,
        backoff_max=max(config.retry_backoff_seconds * 8, 0.0),
        status_forcelist=_RETRIED_STATUSES,
        allowed_methods=None,  # GET and POST queries are both read-only
        respect_retry_after_header=True,
        raise_on_status=False,  # the last response reaches us and is reported with its status
    )


class _RetryLogToDebug(logging.Filter):
    """Moves urllib3's per-retry WARNING to our DEBUG log.

    A retry that then succeeds is not worth a warning, and one that fails ends in our one-line
    PrometheusError; without this the CLI would print a line per retry before it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.getMessage().startswith("Retrying"):
            _LOGGER.debug("urllib3: %s", record.getMessage())
            return False
        return True


def _quiet_urllib3_retries() -> None:
    pool_logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RetryLogToDebug) for f in pool_logger.filters):
        pool_logger.addFilter(_RetryLogToDebug())


class PrometheusClient:
    """A thread-safe client of one server's query API that raises PrometheusError.

    Args:
        config: URL, auth, TLS, timeout, retries and concurrency.
        environ: where ``*_env`` secrets are read (default ``os.environ``).

    Raises:
        UserInputError: no URL, or not an http(s) URL.
        ConfigError: the auth settings lack a secret.
    """

    def __init__(self, config: PrometheusConfig, environ: Mapping[str, str] | None = None) -> None:
        if not config.url:
            raise UserInputError("no Prometheus URL: pass `url` or set [prometheus] url")
        url = config.url.rstrip("/")
        if not re.match(r"^https?://[^/]", url):
            raise UserInputError(
                f"{redact_url(url)!r} must start with http:// or https://", parameter="url"
            )
        self.url = url
        self.safe_url = redact_url(url)
        self.config = config
        self.requests_sent = 0
        self.bytes_received = 0  # response bodies as decoded (after gzip), for the benchmark
        self._count_lock = threading.Lock()
        _quiet_urllib3_retries()
        auth = build_auth(config, environ)
        self._secrets = auth_secrets(auth)
        session = requests.Session()
        session.auth = auth
        session.headers.update(build_headers(config))
        session.hooks["response"].append(self._count_bytes)
        configure_tls(session, config)
        pool = max(10, config.concurrency)
        adapter = HTTPAdapter(
            max_retries=_make_retry(config), pool_maxsize=pool, pool_connections=pool
        )
        session.mount(url, adapter)
        self._session = session

    def close(self) -> None:
        self._session.close()

    def _count_bytes(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        size = len(response.content)  # the client reads the whole body anyway
        with self._count_lock:
            self.bytes_received += size

    def run(self, job: QueryJob) -> list[dict[str, Any]]:
        """Send one query; the ``result`` list of the answer.

        The body is parsed with orjson: answers grow to tens of MB of JSON on big clusters, and
        the standard ``json`` module parses them several times slower (docs/scaling.md).

        Raises:
            QueryRejectedError: HTTP 400 or 422 (the server refused the query).
            PrometheusError: any other failure, after the configured retries.
        """
        with self._count_lock:
            self.requests_sent += 1
        params: dict[str, Any] = {"query": job.promql}
        if job.grid is not None:
            path = "/api/v1/query_range"
            params["start"] = round(job.grid.first.timestamp())
            params["end"] = round(job.grid.end.timestamp())
            params["step"] = str(job.grid.step_seconds)
        else:
            assert job.time is not None
            path = "/api/v1/query"
            params["time"] = job.time.timestamp()
        params["timeout"] = format_duration(self.config.timeout_seconds)
        params.update(RESPONSE_CACHE_BYPASS)
        started = time.monotonic()
        try:
            # verify passed explicitly: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in
            # the environment override the session's own setting otherwise.
            response = self._session.get(
                f"{self.url}{path}",
                params=params,
                timeout=self.config.timeout_seconds,
                verify=self._session.verify,
            )
        except requests.exceptions.RequestException as exc:
            raise self._transport_error(exc, job, time.monotonic() - started) from exc
        elapsed = time.monotonic() - started
        if response.status_code != 200:
            raise self._http_error(response.status_code, response.content, job, elapsed)
        try:
            with GC_PAUSED:
                result = orjson.loads(response.content)["data"]["result"]
        except (ValueError, KeyError, TypeError) as exc:  # orjson's JSONDecodeError: ValueError
            raise self._error(
                f"{self._where} sent a body that is not Prometheus API JSON (truncated or an "
                f"HTML page) for {job.name}; check the URL points at the Prometheus HTTP API and "
                "any proxy in between",
                job,
                elapsed,
                status=200,
            ) from exc
        if not isinstance(result, list):
            raise self._error(
                f"Prometheus at {self.safe_url} answered {job.name} with an unexpected body "
                "(no result list); check that the URL points at the Prometheus HTTP API",
                job,
                elapsed,
                status=200,
            )
        return result

    @property
    def _where(self) -> str:
        return f"Prometheus at {self.safe_url}"

    def _error(
        self,
        message: str,
        job: QueryJob,
        elapsed: float,
        *,
        status: int | None = None,
        kind: type[PrometheusError] = PrometheusError,
    ) -> PrometheusError:
        return kind(self._scrub(message), status=status, query=job.name, elapsed_seconds=elapsed)

    def _http_error(
        self, status: int, body: bytes, job: QueryJob, elapsed: float
    ) -> PrometheusError:
        """The error for an answer with HTTP ``status`` (after the retries of 429 and 5xx)."""
        where = self._where
        attempts = self.config.max_retries + 1
        detail = _server_error_detail(body)
        if status == 404:
            message = (
                f"{where} answered 404 Not Found for /api/v1/query; check the URL path "
                "(Mimir needs .../prometheus, VictoriaMetrics cluster .../select/0/prometheus, "
                "AMP .../workspaces/ws-ID)"
            )
        elif status in (401, 403):
            message = (
                f"{where} answered {status} (not authorised); check `auth` and the token, "
                "password or AWS credentials it uses"
            )
        elif status == 429:
            message = (
                f"{where} kept answering 429 Too Many Requests after {attempts} attempts; "
                "lower [prometheus] concurrency or retry later"
            )
        elif status in (503, 504):
            # Prometheus answers 503 when a query hits its own timeout or the query queue is
            # full; a gateway 504 when the server took longer than the proxy waits.
            message = (
                f"{where} answered HTTP {status} after {attempts} attempts{detail} to query "
                f"{job.name} ({elapsed:.1f}s in all); if the server is loaded by this query, "
                f"raise {_TIMEOUT_FIX} (now {self.config.timeout_seconds:g}s), fetch with "
                "`shape` aggregate or a narrower `namespace_regex`; else check the server's health "
                "and logs, or retry later"
            )
        elif status >= 500:
            message = (
                f"{where} answered HTTP {status} after {attempts} attempts{detail}; check the "
                "server's health and logs, or retry later"
            )
        else:
            message = (
                f"{where} rejected query {job.name} with HTTP {status}{detail}; check "
                "`namespace_regex`/`cluster_label` and that the server speaks PromQL"
            )
            if status in (400, 422):
                return self._error(message, job, elapsed, status=status, kind=QueryRejectedError)
        return self._error(message, job, elapsed, status=status)

    def _transport_error(
        self, exc: requests.exceptions.RequestException, job: QueryJob, elapsed: float
    ) -> PrometheusError:
        """The error for a request that got no complete answer (after the retries)."""
        where = self._where
        attempts = self.config.max_retries + 1
        if isinstance(
            exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
        ):
            message = (
                f"{where} closed the connection in the middle of the answer to {job.name} "
                "(truncated body); check the server and any proxy in between, or shorten the window"
            )
        elif isinstance(exc, requests.exceptions.SSLError):
            message = (
                f"TLS handshake with {where} failed; check `ca_bundle` (or `insecure_skip_verify` for a "
                "test server)"
            )
        elif _is_timeout(exc):
            message = (
                f"{where} did not answer {job.name} within {self.config.timeout_seconds:g}s "
                f"({attempts} attempts, {elapsed:.1f}s in all); raise {_TIMEOUT_FIX}, fetch "
                "with `shape` aggregate, a narrower `namespace_regex` or a shorter window, or check "
                "the server's load"
            )
        elif isinstance(exc, requests.exceptions.ConnectionError):
            message = (
                f"cannot connect to {where} ({_connection_reason(exc)}); check `url` "
                "and that the server is up and reachable"
            )
        else:
            message = f"request to {where} failed ({type(exc).__name__}); check `url`"
        return self._error(message, job, elapsed)

    def _scrub(self, message: str) -> str:
        for secret in self._secrets:
            message = message.replace(secret, "<redacted>")
        return " ".join(message.split())


def _server_error_detail(body: bytes) -> str:
    """``": <the error field>"`` of a Prometheus error body, or "" when it has none."""
    try:
        detail = str(orjson.loads(body)["error"])
    except (ValueError, TypeError, KeyError):
        return ""
    detail = " ".join(detail.split())
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return f": {detail}"


def _causes(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
        if current.__cause__ is not None:
            stack.append(current.__cause__)
        if current.__context__ is not None:
            stack.append(current.__context__)


def _is_timeout(exc: BaseException) -> bool:
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError

    causes = list(_causes(exc))
    # urllib3 derives NewConnectionError (refused, unknown host) from ConnectTimeoutError.
    if any(isinstance(c, NewConnectionError | ConnectionRefusedError) for c in causes):
        return False
    return any(
        isinstance(
            c, requests.exceptions.Timeout | ReadTimeoutError | ConnectTimeoutError | TimeoutError
        )
        for c in causes
    )


def _connection_reason(exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if "Name or service not known" in str(cause) or "nodename nor servname" in str(cause):
            return "unknown host name"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
    return type(exc).__name__
