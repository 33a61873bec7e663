"""Post or update one sticky PR comment through the GitHub REST API.

The comment is found by :data:`~kianax_capacity.outputs.markdown.MARKER` at the start of its
body: the first such issue comment on the pull request is updated (``PATCH``), otherwise a new one
is created (``POST``). Comments are listed page by page (``Link: rel="next"``), 100 at a time.

The token is passed in, sent only in the ``Authorization`` header, and never appears in a message
or an exception (request URLs carry no token).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

import requests

from kianax_capacity.errors import GitHubError, UserInputError
from kianax_capacity.outputs.markdown import GITHUB_COMMENT_LIMIT, MARKER

__all__ = ["DEFAULT_API_URL", "CommentResult", "GitHubError", "upsert_sticky_comment"]

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_MAX_PAGES = 100  # 10,000 comments: far more than a PR has; stops a server that loops.


@dataclass(frozen=True)
class CommentResult:
    """What :func:`upsert_sticky_comment` did."""

    action: Literal["created", "updated"]
    comment_id: int
    url: str | None


def _raise_for(response: requests.Response, what: str, repo: str, pr: int) -> None:
    status = response.status_code
    if status < 400:
        return
    if status == 401:
        raise GitHubError(
            f"{what}: GitHub rejected the token (401); check that GITHUB_TOKEN is set and valid"
        )
    if status == 403:
        raise GitHubError(
            f"{what}: GitHub refused access (403) to {repo}; the token needs "
            "`pull-requests: write` (or `issues: write`), or the rate limit was hit"
        )
    if status == 404:
        raise GitHubError(
            f"{what}: {repo} pull request #{pr} not found (404); check the repository and "
            "pull request number, and that the token can see the repository"
        )
    raise GitHubError(f"{what}: GitHub answered HTTP {status} for {repo}#{pr}; try again later")


def _request(
    session: requests.Session,
    method: str,
    url: str,
    what: str,
    repo: str,
    pr: int,
    timeout: float,
    **kwargs: Any,
) -> requests.Response:
    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        # The message of a connection error names the host, never the headers.
        raise GitHubError(
            f"{what}: cannot reach the GitHub API ({type(exc).__name__}); check the API URL",
            parameter="api_url",
        ) from None
    _raise_for(response, what, repo, pr)
    return response


def upsert_sticky_comment(
    repo: str,
    pr: int,
    body: str,
    token: str,
    api_url: str = DEFAULT_API_URL,
    marker: str = MARKER,
    timeout: float = 30.0,
    session: requests.Session | None = None,
) -> CommentResult:
    """Create or update the PR comment whose body starts with ``marker``.

    Args:
        repo: ``owner/name``.
        pr: the pull request number.
        body: the comment; ``marker`` is prepended on its own line when missing.
        token: a GitHub token (``GITHUB_TOKEN`` in Actions).
        api_url: the REST API root (GitHub Enterprise: ``https://HOST/api/v3``).

    Raises:
        UserInputError: ``repo`` is not ``owner/name``, ``pr`` is not positive, or the body is
            over GitHub's 65,536-character limit.
        GitHubError: the API refused (401/403/404) or failed.
    """
    if not _REPO.match(repo):
        raise UserInputError(f"{repo!r} is not owner/name (e.g. kianax/platform)", parameter="repo")
    if pr <= 0:
        raise UserInputError(f"must be a positive pull request number, got {pr}", parameter="pr")
    if not body.lstrip().startswith(marker):
        body = f"{marker}\n{body}"
    if len(body) > GITHUB_COMMENT_LIMIT:
        raise UserInputError(
            f"comment body has {len(body):,} characters; GitHub accepts at most "
            f"{GITHUB_COMMENT_LIMIT:,} (render it with `kianax-capacity diff`, which truncates)"
        )
    base = api_url.rstrip("/")
    own_session = session is None
    http = session or requests.Session()
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "kianax-capacity",
    }
    try:
        url: str | None = f"{base}/repos/{repo}/issues/{pr}/comments?per_page=100"
        existing: dict[str, Any] | None = None
        for _ in range(_MAX_PAGES):
            if url is None:
                break
            response = _request(
                http, "GET", url, "listing PR comments", repo, pr, timeout, headers=headers
            )
            try:
                comments = response.json()
            except ValueError:
                raise GitHubError(
                    f"listing PR comments: GitHub answered with non-JSON for {repo}#{pr}"
                ) from None
            if not isinstance(comments, list):
                raise GitHubError(
                    f"listing PR comments: unexpected answer for {repo}#{pr} (not a list)"
                )
            for comment in comments:
                text = comment.get("body") if isinstance(comment, dict) else None
                if isinstance(text, str) and text.lstrip().startswith(marker):
                    existing = comment
                    break
            if existing is not None:
                break
            url = response.links.get("next", {}).get("url")
        if existing is not None:
            comment_id = int(existing["id"])
            response = _request(
                http,
                "PATCH",
                f"{base}/repos/{repo}/issues/comments/{comment_id}",
                "updating the PR comment",
                repo,
                pr,
                timeout,
                headers=headers,
                json={"body": body},
            )
            action: Literal["created", "updated"] = "updated"
        else:
            response = _request(
                http,
                "POST",
                f"{base}/repos/{repo}/issues/{pr}/comments",
                "posting the PR comment",
                repo,
                pr,
                timeout,
                headers=headers,
                json={"body": body},
            )
            action = "created"
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        comment_id = int(answer.get("id", existing["id"] if existing else 0))
        logger.info("%s comment %s on %s#%s", action, comment_id, repo, pr)
        return CommentResult(action, comment_id, answer.get("html_url"))
    finally:
        if own_session:
            http.close()
