"""A fault-injecting HTTP proxy on 127.0.0.1 for the fault suite.

:class:`FaultProxy` forwards every request to a real upstream (the fault suite's Prometheus)
and, on the requests a test chooses, injects one fault instead of (or on top of) the upstream's
answer. Faults are scheduled with :meth:`FaultProxy.inject`:

* ``times=None``: every request gets the fault (a server that stays broken);
* ``times=N``: the next N requests get it, then the proxy recovers;
* ``per_query=True``: the first attempt of each distinct request (method, path, query, body)
  gets it and its retry goes through, so every query of a fetch is retried exactly once
  whatever the client's concurrency.

Modes: ``reset`` (TCP RST before any answer), ``drop`` (close without answering), ``500``,
``502``, ``503``, ``429`` (with ``Retry-After``), ``slow`` (hold the answer until the proxy is
closed, past any client timeout), ``truncated`` (the upstream's 200 body cut in half under a
Content-Length that promises all of it), ``not_json`` (a 200 HTML login page).

When the upstream is down the proxy answers 502 Bad Gateway, as nginx or an ALB would.
``on_request`` lets a test act on the Nth request (kill the upstream mid-fetch), and
``require_authorization`` makes the proxy answer 401 unless the client sent that exact
Authorization header (proof that a secret was really used).
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

import requests

MODES = ("reset", "drop", "500", "502", "503", "429", "slow", "truncated", "not_json")


@dataclass(frozen=True)
class Seen:
    """One request the proxy received."""

    number: int
    at: float  # time.monotonic()
    method: str
    path: str
    fault: str | None
    headers: dict[str, str]


class FaultProxy:
    """A threaded reverse proxy to ``upstream`` that injects scheduled faults."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.lock = threading.Lock()
        self.seen: list[Seen] = []
        self.retry_after = "0"
        self.on_request: Callable[[int], None] | None = None
        self.require_authorization: str | None = None
        self.upstream_down = 0  # requests answered 502 because the upstream refused them
        self.upstream_statuses: list[int] = []  # what the upstream answered, in order
        self._release = threading.Event()
        self._mode: str | None = None
        self._times: int | None = None
        self._per_query = False
        self._faulted_keys: set[tuple[str, str, bytes]] = set()
        self._session = requests.Session()
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    # --- scheduling -----------------------------------------------------------------------

    def inject(
        self, mode: str | None, *, times: int | None = None, per_query: bool = False
    ) -> None:
        """Schedule ``mode`` (None = no fault) for the next requests; see the module doc."""
        if mode is not None and mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}")
        with self.lock:
            self._mode, self._times, self._per_query = mode, times, per_query
            self._faulted_keys.clear()

    def reset(self) -> None:
        """No fault, no hooks, an empty request log."""
        self.inject(None)
        with self.lock:
            self.seen.clear()
            self.on_request = None
            self.require_authorization = None
            self.retry_after = "0"
            self.upstream_down = 0
            self.upstream_statuses.clear()

    def _choose(self, key: tuple[str, str, bytes]) -> str | None:
        with self.lock:
            mode = self._mode
            if mode is None:
                return None
            if self._per_query:
                if key in self._faulted_keys:
                    return None
                self._faulted_keys.add(key)
                return mode
            if self._times is None:
                return mode
            if self._times <= 0:
                return None
            self._times -= 1
            return mode

    def faults(self) -> int:
        """How many requests got a fault."""
        with self.lock:
            return sum(1 for s in self.seen if s.fault is not None)

    # --- serving --------------------------------------------------------------------------

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy._serve(self)

            do_POST = do_GET

            def finish(self) -> None:
                # A reset or dropped connection leaves nothing to flush.
                with contextlib.suppress(OSError):
                    super().finish()

        return Handler

    def _serve(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        fault = self._choose((handler.command, handler.path, body))
        with self.lock:
            number = len(self.seen) + 1
            self.seen.append(
                Seen(
                    number,
                    time.monotonic(),
                    handler.command,
                    handler.path,
                    fault,
                    dict(handler.headers.items()),
                )
            )
            hook = self.on_request
        if hook is not None:
            hook(number)
        if self.require_authorization is not None and (
            handler.headers.get("Authorization") != self.require_authorization
        ):
            _send(handler, 401, b"Unauthorized", "text/plain")
            return
        if fault in ("reset", "drop"):
            if fault == "reset":
                # SO_LINGER 0: close() sends RST instead of FIN.
                handler.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            handler.close_connection = True
            handler.connection.close()
            return
        if fault in ("500", "502", "503"):
            error = b'{"status":"error","errorType":"internal","error":"injected fault"}'
            _send(handler, int(fault), error)
            return
        if fault == "429":
            _send(
                handler, 429, b"Too Many Requests", "text/plain", {"Retry-After": self.retry_after}
            )
            return
        if fault == "slow":
            self._release.wait(60)
            handler.close_connection = True
            return
        if fault == "not_json":
            _send(handler, 200, b"<html><body>Please sign in</body></html>", "text/html")
            return
        try:
            upstream = self._session.request(
                handler.command,
                self.upstream + handler.path,
                data=body or None,
                headers={"Content-Type": handler.headers.get("Content-Type", "")} if body else None,
                timeout=60,
            )
        except requests.ConnectionError:
            with self.lock:
                self.upstream_down += 1
            _send(handler, 502, b"502 Bad Gateway: upstream unavailable", "text/plain")
            return
        with self.lock:
            self.upstream_statuses.append(upstream.status_code)
        content = upstream.content
        content_type = upstream.headers.get("Content-Type", "application/json")
        if fault == "truncated":
            handler.send_response(upstream.status_code)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(content)))
            handler.end_headers()
            handler.wfile.write(content[: len(content) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        _send(handler, upstream.status_code, content, content_type)

    def close(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _send(
    handler: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
