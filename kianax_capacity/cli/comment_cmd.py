"""`kianax-capacity comment`: post or update the sticky PR comment with a Markdown body.

The token comes from ``GITHUB_TOKEN`` in the environment only; it is never printed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from kianax_capacity.errors import UserInputError
from kianax_capacity.outputs.github import DEFAULT_API_URL, upsert_sticky_comment


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "comment",
        help="post or update the sticky kianax-capacity comment on a pull request",
        description=(
            "Find the PR comment that starts with <!-- kianax-capacity --> and update it, or "
            "post a new one. Needs GITHUB_TOKEN in the environment."
        ),
    )
    parser.add_argument("--repo", required=True, metavar="OWNER/NAME")
    parser.add_argument("--pr", required=True, type=int, metavar="N", help="pull request number")
    parser.add_argument(
        "--body-file", required=True, metavar="FILE", help="Markdown from `kianax-capacity diff`"
    )
    parser.add_argument(
        "--api-url",
        default=None,
        metavar="URL",
        help=f"GitHub REST API root (default $GITHUB_API_URL or {DEFAULT_API_URL})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise UserInputError("GITHUB_TOKEN is not set; export a token that may write PR comments")
    try:
        body = Path(args.body_file).read_text()
    except FileNotFoundError:
        raise UserInputError(
            f"{args.body_file}: no such file; write it with `kianax-capacity diff --out`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{args.body_file}: cannot read ({type(exc).__name__})") from None
    api_url = args.api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL
    result = upsert_sticky_comment(args.repo, args.pr, body, token, api_url=api_url)
    print(
        f"{result.action} comment {result.comment_id} on {args.repo}#{args.pr}"
        + (f": {result.url}" if result.url else "")
    )
    return 0
