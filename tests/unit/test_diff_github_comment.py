"""The sticky PR comment against a local GitHub-like HTTP server that records every request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from kianax_capacity.errors import UserInputError
from kianax_capacity.outputs.github import GitHubError, upsert_sticky_comment
from kianax_capacity.outputs.markdown import MARKER

TOKEN = "ghs_secretTOKEN1234567890"


@dataclass
class FakeGitHub:
    """Issue comments of owner/repo#7, served in pages of ``page_size``; requests are recorded."""

    comments: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    fail_with: int | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _record(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            entry = {
                "method": self.command,
                "path": self.path,
                "auth": self.headers.get("Authorization"),
                "body": body,
            }
            state.requests.append(entry)
            return entry

        def do_GET(self) -> None:
            self._record()
            if state.fail_with:
                self._send(state.fail_with, {"message": "nope"})
                return
            parts = urlsplit(self.path)
            if parts.path != "/repos/owner/repo/issues/7/comments":
                self._send(404, {"message": "Not Found"})
                return
            page = int(parse_qs(parts.query).get("page", ["1"])[0])
            start = (page - 1) * state.page_size
            chunk = state.comments[start : start + state.page_size]
            headers = {}
            if start + state.page_size < len(state.comments):
                headers["Link"] = (
                    f'<{state.url}{parts.path}?per_page=100&page={page + 1}>; rel="next"'
                )
            self._send(200, chunk, headers)

        def do_PATCH(self) -> None:
            entry = self._record()
            comment_id = int(self.path.rsplit("/", 1)[1])
            self._send(
                200,
                {
                    "id": comment_id,
                    "body": entry["body"]["body"],
                    "html_url": f"https://github.example/owner/repo/pull/7#issuecomment-{comment_id}",
                },
            )

        def do_POST(self) -> None:
            entry = self._record()
            self._send(201, {"id": 999, "body": entry["body"]["body"], "html_url": None})

    return Handler


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def test_posts_when_no_sticky_comment_exists(github: FakeGitHub) -> None:
    github.comments = [{"id": 1, "body": "LGTM"}, {"id": 2, "body": f"quoting {MARKER} later"}]
    result = upsert_sticky_comment("owner/repo", 7, "## hello\n", TOKEN, api_url=github.url)
    assert (result.action, result.comment_id) == ("created", 999)
    methods = [(r["method"], r["path"]) for r in github.requests]
    assert methods == [
        ("GET", "/repos/owner/repo/issues/7/comments?per_page=100"),
        ("POST", "/repos/owner/repo/issues/7/comments"),
    ]
    # The marker is added as the very first line so the next run finds this comment.
    assert github.requests[-1]["body"] == {"body": f"{MARKER}\n## hello\n"}
    assert all(r["auth"] == f"Bearer {TOKEN}" for r in github.requests)


def test_updates_the_marked_comment_found_on_a_later_page(github: FakeGitHub) -> None:
    github.comments = [{"id": n, "body": f"comment {n}"} for n in range(1, 6)]
    github.comments.append({"id": 42, "body": f"{MARKER}\nold numbers"})
    body = f"{MARKER}\nnew numbers\n"
    result = upsert_sticky_comment("owner/repo", 7, body, TOKEN, api_url=github.url + "/")
    assert (result.action, result.comment_id) == ("updated", 42)
    gets = [r for r in github.requests if r["method"] == "GET"]
    assert len(gets) == 3  # three pages of two
    patch = github.requests[-1]
    assert (patch["method"], patch["path"], patch["body"]) == (
        "PATCH",
        "/repos/owner/repo/issues/comments/42",
        {"body": body},
    )


@pytest.mark.parametrize(
    ("status", "words"),
    [(401, "rejected the token"), (403, "refused access"), (404, "not found"), (500, "HTTP 500")],
)
def test_http_errors_are_one_line_without_the_token(
    github: FakeGitHub, status: int, words: str
) -> None:
    github.fail_with = status
    with pytest.raises(GitHubError) as caught:
        upsert_sticky_comment("owner/repo", 7, "x", TOKEN, api_url=github.url)
    message = str(caught.value)
    assert words in message and "\n" not in message
    assert TOKEN not in message and TOKEN not in repr(caught.value)


def test_unreachable_api_is_a_github_error() -> None:
    with pytest.raises(GitHubError, match="cannot reach"):
        upsert_sticky_comment("owner/repo", 7, "x", TOKEN, api_url="http://127.0.0.1:9", timeout=2)


@pytest.mark.parametrize(
    ("repo", "pr", "body", "words"),
    [
        ("not-a-repo", 7, "x", "owner/name"),
        ("owner/repo", 0, "x", "positive"),
        ("owner/repo", 7, "x" * 70_000, "at most"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    github: FakeGitHub, repo: str, pr: int, body: str, words: str
) -> None:
    with pytest.raises(UserInputError, match=words):
        upsert_sticky_comment(repo, pr, body, TOKEN, api_url=github.url)
    assert github.requests == []
