"""`kianax-capacity recommend`."""

from __future__ import annotations

import argparse
from typing import Any

from kianax_capacity.errors import NotBuiltError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "recommend", help="(not built yet)", description="Not built yet."
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotBuiltError("`recommend` is not built yet in this release")
