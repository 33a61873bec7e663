"""Layered Helm values: the value a chart sees through a stack of values files.

Helm merges values files in order (the chart's ``values.yaml`` first, then each ``-f`` file):
mappings merge key by key, a later scalar wins, and an explicit ``null`` deletes what a lower
file set. :class:`ValueStack` answers "what does the chart see at this path" and "does the
environment's own file set it", so an override can write ``null`` where only that removes an
inherited value.

Example:
    >>> stack = ValueStack(({"resources": {"limits": {"cpu": "500m"}}}, {"resources": {}}))
    >>> stack.effective(("resources", "limits", "cpu"))
    '500m'
    >>> ValueStack(({"a": {"b": 1}}, {"a": {"b": None}})).effective(("a", "b")) is None
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MISSING", "ValueStack"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def lookup(data: Any, path: Sequence[str]) -> Any:
    """The value at ``path`` in one file's data: MISSING when absent, None when set to null."""
    node = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
        if node is None:
            return None
    return node


@dataclass(frozen=True)
class ValueStack:
    """Loaded values files, lowest first (chart defaults ... the environment's file last)."""

    layers: tuple[Any, ...]

    def effective(self, path: Sequence[str]) -> Any:
        """What the chart reads at ``path`` (None when unset or deleted by a null)."""
        for data in reversed(self.layers):
            found = lookup(data, path)
            if found is not MISSING:
                return found
        return None

    def below_top(self) -> ValueStack:
        """The stack without the environment's file (what it inherits)."""
        return ValueStack(self.layers[:-1])

    def top_sets(self, path: Sequence[str]) -> bool:
        return bool(self.layers) and lookup(self.layers[-1], path) is not MISSING

    def with_top(self, data: Any) -> ValueStack:
        return ValueStack((*self.layers[:-1], data))
