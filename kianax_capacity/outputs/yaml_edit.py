"""Surgical edits of YAML text: change, insert or remove scalar values by key path.

``ruamel.yaml``'s round-trip mode keeps comments, but it still re-emits the whole document: it can
re-indent sequences, re-flow long lines, normalise ``~`` and re-wrap flow mappings. A reviewer of a
Helm values PR must see only the lines whose values changed, so this module uses ruamel's *parser*
for exact positions (events carry character offsets, anchors, aliases and quoting styles) and then
edits the text in place. Every result is checked by parsing it again and comparing it with the
expected data (the original data with the requested changes applied); a mismatch is an error, never
a silently wrong file.

Example:
    >>> text = "resources:\\n  requests:\\n    cpu: '250m'  # tuned\\n"
    >>> print(edit_yaml(text, [SetValue(("resources", "requests", "cpu"), "120m")]), end="")
    resources:
      requests:
        cpu: '120m'  # tuned
"""

from __future__ import annotations

import copy
import functools
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from kianax_capacity.errors import YamlEditError

__all__ = [
    "RemoveValue",
    "SetValue",
    "TextStyle",
    "YamlEditError",
    "edit_yaml",
    "load_data",
    "read_scalar",
    "scalar_style",
    "split_style",
]

_NULLS = {"", "~", "null", "Null", "NULL"}


@dataclass(frozen=True)
class TextStyle:
    """The bytes-level habits of a file that the YAML data does not show: BOM, line endings."""

    bom: bool = False
    crlf: bool = False

    def restore(self, text: str) -> str:
        """``text`` (LF, no BOM) written back in this style."""
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return ("\ufeff" + text) if self.bom else text


def split_style(raw: str) -> tuple[str, TextStyle]:
    """``raw`` as LF text without a BOM, and the style to restore it with.

    Raises:
        YamlEditError: the file mixes CRLF and LF line endings (no style to keep).

    Example:
        >>> split_style("\\ufeffa: 1\\r\\n")
        ('a: 1\\n', TextStyle(bom=True, crlf=True))
    """
    bom = raw.startswith("\ufeff")
    text = raw[1:] if bom else raw
    crlf = text.count("\r\n")
    if crlf and crlf != text.count("\n"):
        raise YamlEditError("the file mixes CRLF and LF line endings; make them one kind first")
    if crlf:
        text = text.replace("\r\n", "\n")
    return text, TextStyle(bom=bom, crlf=bool(crlf))


@dataclass(frozen=True)
class SetValue:
    """Set the scalar at ``path`` to ``text``, a plain YAML scalar.

    When the scalar exists its quoting style is kept (``'...'`` or ``"..."``); ``text`` must be
    a plain scalar that needs no quoting (Kubernetes quantities and integers do not).
    """

    path: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class RemoveValue:
    """Remove the key at ``path`` (nothing happens when it is absent)."""

    path: tuple[str, ...]


Edit = SetValue | RemoveValue


@dataclass
class _Node:
    """A value in the parsed document with its exact character span."""

    kind: str  # scalar | alias | map | seq
    start: int
    end: int
    flow: bool = False
    column: int = 0  # column of the first key for block mappings
    style: str | None = None
    anchor: str | None = None
    alias: str | None = None
    value: str | None = None
    tag: str | None = None
    key_start: int = -1  # where this node's key begins in the parent mapping
    key_end: int = -1
    key_column: int = 0
    parent: _Node | None = None
    children: dict[str, _Node] = field(default_factory=dict)


class _Tree:
    def __init__(self, events: Sequence[Event]) -> None:
        self._events = list(events)
        self._pos = 0
        self.aliases: list[tuple[_Node, tuple[str, ...]]] = []
        self.root = self._document()

    def _next(self) -> Event:
        event = self._events[self._pos]
        self._pos += 1
        return event

    def _document(self) -> _Node:
        while self._pos < len(self._events) and isinstance(
            self._events[self._pos], StreamStartEvent | DocumentStartEvent
        ):
            self._pos += 1
        if self._pos >= len(self._events) or isinstance(self._events[self._pos], StreamEndEvent):
            raise YamlEditError("the values file is empty; add at least one key")
        root = self._node(None, ())
        if root.kind != "map":
            raise YamlEditError("the values file is not a mapping at the top level")
        rest = [
            e
            for e in self._events[self._pos :]
            if not isinstance(e, DocumentEndEvent | StreamEndEvent)
        ]
        if rest:
            raise YamlEditError("the values file holds more than one YAML document; keep one")
        return root

    def _node(self, parent: _Node | None, path: tuple[str, ...]) -> _Node:
        event = self._next()
        start = event.start_mark.index
        if isinstance(event, ScalarEvent):
            return _Node(
                "scalar",
                start,
                event.end_mark.index,
                style=event.style,
                anchor=event.anchor,
                value=event.value,
                tag=event.tag,
                parent=parent,
            )
        if isinstance(event, AliasEvent):
            node = _Node("alias", start, event.end_mark.index, alias=event.anchor, parent=parent)
            self.aliases.append((node, path))
            return node
        if isinstance(event, MappingStartEvent):
            node = _Node(
                "map",
                start,
                start,
                flow=bool(event.flow_style),
                anchor=event.anchor,
                column=event.start_mark.column,
                parent=parent,
            )
            while not isinstance(self._events[self._pos], MappingEndEvent):
                key_event = self._next()
                if not isinstance(key_event, ScalarEvent):
                    raise YamlEditError(
                        "the values file uses a complex mapping key; keep keys plain"
                    )
                child = self._node(node, (*path, key_event.value))
                child.key_start = key_event.start_mark.index
                child.key_end = key_event.end_mark.index
                child.key_column = key_event.start_mark.column
                node.children[key_event.value] = child
                node.end = max(node.end, child.end)
            end_event = self._next()
            if node.flow:
                node.end = end_event.end_mark.index
            return node
        if isinstance(event, SequenceStartEvent):
            node = _Node(
                "seq", start, start, flow=bool(event.flow_style), anchor=event.anchor, parent=parent
            )
            index = 0
            while not isinstance(self._events[self._pos], SequenceEndEvent):
                child = self._node(node, (*path, str(index)))
                node.end = max(node.end, child.end)
                index += 1
            end_event = self._next()
            if node.flow:
                node.end = end_event.end_mark.index
            return node
        raise YamlEditError(f"unexpected YAML event {type(event).__name__}")  # pragma: no cover


@functools.lru_cache(maxsize=8)
def _parse_tree(text: str) -> _Tree:
    try:
        events = list(YAML(typ="rt").parse(io.StringIO(text)))
    except YAMLError as exc:
        raise YamlEditError(f"not valid YAML ({_first_line(exc)})") from exc
    return _Tree(events)


def _load(text: str) -> Any:
    return copy.deepcopy(_load_cached(text))


def load_data(text: str) -> Any:
    """``text`` loaded as YAML data (a private copy; parses are cached by text).

    Raises:
        YamlEditError: the text is not valid YAML.
    """
    return _load(text)


@functools.lru_cache(maxsize=32)
def _load_cached(text: str) -> Any:
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise YamlEditError(f"not valid YAML ({_first_line(exc)})") from exc


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def read_scalar(text: str, path: Sequence[str]) -> Any:
    """The loaded value at ``path`` (``None`` when absent), following aliases and merge keys."""
    data = _load(text)
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def scalar_style(text: str, path: Sequence[str]) -> str | None:
    """How the scalar at ``path`` is written: ``plain``, ``'``, ``"``, or None when not a scalar."""
    node: _Node | None = _parse_tree(text).root
    for key in path:
        node = node.children.get(key) if node is not None and node.kind == "map" else None
    if node is None or node.kind != "scalar":
        return None
    return node.style or "plain"


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end < 0 else end


def _value_start(text: str, node: _Node) -> int:
    """Where the scalar itself starts, after any ``&anchor`` and ``!tag`` properties."""
    index = node.start
    for _ in range(2):
        if text.startswith("&", index) or text.startswith("!", index):
            while index < node.end and not text[index].isspace():
                index += 1
            while index < node.end and text[index] in " \t":
                index += 1
    return index


def _block(tree: dict[str, Any], indent: int) -> list[str]:
    lines: list[str] = []
    for key, value in tree.items():
        if isinstance(value, dict):
            lines.append(" " * indent + f"{key}:")
            lines.extend(_block(value, indent + 2))
        else:
            lines.append(" " * indent + f"{key}: {value}")
    return lines


def _flow(tree: dict[str, Any]) -> str:
    parts = [
        f"{k}: {{{_flow(v)}}}" if isinstance(v, dict) else f"{k}: {v}" for k, v in tree.items()
    ]
    return ", ".join(parts)


def _nest(target: dict[str, Any], path: Sequence[str], text: str) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = text


class _Editor:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tree = _parse_tree(text)
        self.edits: list[tuple[int, int, str]] = []
        self.touched_anchors: dict[str, str] = {}  # anchor -> original literal text
        self.edited_paths: set[tuple[str, ...]] = set()
        self.inserts: dict[int, tuple[_Node, dict[str, Any]]] = {}
        self.removed: dict[int, tuple[_Node, set[str]]] = {}
        self.expected: dict[
            tuple[str, ...], Any
        ] = {}  # path -> the value the new text must load as

    def _walk(self, path: tuple[str, ...]) -> tuple[_Node, int]:
        """The deepest existing node on ``path`` and how many keys of it exist."""
        node = self.tree.root
        for depth, key in enumerate(path):
            if node.kind == "alias":
                raise YamlEditError(
                    f"{'.'.join(path[:depth])} is an alias (*{node.alias}); edit it by hand "
                    "or point the key path elsewhere"
                )
            if node.kind != "map":
                if node.kind == "scalar" and node.value in _NULLS and node.style is None:
                    return node, depth
                raise YamlEditError(
                    f"{'.'.join(path[:depth])} is not a mapping; cannot set {'.'.join(path)}"
                )
            child = node.children.get(key)
            if child is None:
                return node, depth
            node = child
        return node, len(path)

    def _remember_anchor(self, node: _Node) -> None:
        if node.anchor:
            self.touched_anchors[node.anchor] = self.text[_value_start(self.text, node) : node.end]

    def set(self, op: SetValue) -> None:
        node, depth = self._walk(op.path)
        self.edited_paths.add(op.path)
        if depth < len(op.path):
            holder = self.inserts.setdefault(id(node), (node, {}))
            _nest(holder[1], op.path[depth:], op.text)
            self.expected[op.path] = _plain_value(op.text)
            return
        where = ".".join(op.path)
        if node.kind == "alias":
            self.edits.append((node.start, node.end, op.text))
            self.expected[op.path] = _plain_value(op.text)
            return
        if node.kind != "scalar":
            raise YamlEditError(
                f"{where} is a {'mapping' if node.kind == 'map' else 'list'}, not a value"
            )
        if node.style in ("|", ">"):
            raise YamlEditError(f"{where} is a block scalar; rewrite it as a plain value first")
        self._remember_anchor(node)
        start, end = _value_start(self.text, node), node.end
        quoted = node.style in ("'", '"') and op.text != "null"  # a null is never quoted
        self.expected[op.path] = op.text if quoted else _plain_value(op.text)
        if quoted:
            replacement = f"{node.style}{op.text}{node.style}"
        elif start == end:
            start = end = self._empty_at(node)
            replacement = f" {op.text}"
        else:
            replacement = op.text
        self.edits.append((start, end, replacement))

    def _empty_at(self, node: _Node) -> int:
        """Just after the colon of an empty value (the parser marks empty scalars unreliably)."""
        return self.text.index(":", node.key_end) + 1

    def remove(self, op: RemoveValue) -> None:
        node, depth = self._walk(op.path)
        if depth < len(op.path):
            return
        self.edited_paths.add(op.path)
        parent = node.parent
        assert parent is not None  # the root itself is never removed
        self._remember_anchor(node)
        text = self.text
        if parent.flow:
            start, end = node.key_start, node.end
            after = end
            while after < len(text) and text[after] in " \t":
                after += 1
            if after < len(text) and text[after] == ",":
                end = after + 1
                while end < len(text) and text[end] in " \t":
                    end += 1
            else:
                before = start
                while before > 0 and text[before - 1] in " \t":
                    before -= 1
                if before > 0 and text[before - 1] == ",":
                    start = before - 1
            self.edits.append((start, end, ""))
            return
        first = _line_start(text, node.key_start)
        last = _line_end(text, max(node.end - 1, node.key_end))
        # Take the newline *before* the line, so a key inserted after it in the same mapping
        # (its insertion point is the end of this line) does not overlap the deletion.
        if first > 0:
            self.edits.append((first - 1, last, ""))
        else:
            self.edits.append((first, min(last + 1, len(text)), ""))
        self.removed.setdefault(id(parent), (parent, set()))[1].add(op.path[-1])

    def _render_inserts(self) -> None:
        text = self.text
        for node, tree in self.inserts.values():
            if node.kind == "map" and not node.flow:
                eol = _line_end(text, max(node.end - 1, node.start))
                lines = _block(tree, node.column)
                self.edits.append((eol, eol, "\n" + "\n".join(lines)))
                continue
            if node.kind == "map" and node.children:
                close = text.rindex("}", node.start, node.end)
                self.edits.append((close, close, ", " + _flow(tree)))
                continue
            # An empty flow mapping ({}) or a null: becomes a block under its key.
            if node.parent is None or node.parent.flow:
                raise YamlEditError(
                    "cannot add keys inside an empty flow collection; write it as a block"
                )
            start, end = node.start, node.end
            if start == end:
                start = end = self._empty_at(node)
            colon = self._empty_at(node)
            if colon <= start and not text[colon:start].strip():
                start = colon  # `resources:\n  {}`: the block follows the colon, no blank line
            while start > 0 and text[start - 1] in " \t":
                start -= 1
            eol = _line_end(text, end)
            tail = text[end:eol]
            lines = _block(tree, node.key_column + 2)
            self.edits.append((start, eol, tail + "\n" + "\n".join(lines)))

    def _materialise_aliases(self) -> None:
        """Aliases of an anchor whose value changes keep the old value (only the target changes)."""
        for alias_node, path in self.tree.aliases:
            literal = self.touched_anchors.get(alias_node.alias or "")
            if literal is not None and path not in self.edited_paths:
                self.edits.append((alias_node.start, alias_node.end, literal))

    def _close_emptied(self) -> None:
        """A block mapping whose keys are all removed would load as null; write ``{}`` instead."""
        for key, (parent, keys) in self.removed.items():
            if key in self.inserts or set(parent.children) - keys:
                continue
            if parent.parent is None or parent.parent.flow or parent.flow:
                continue
            colon = self.text.index(":", parent.key_end)
            self.edits.append((colon + 1, colon + 1, " {}"))

    def result(self) -> str:
        self._render_inserts()
        self._close_emptied()
        self._materialise_aliases()
        edits = sorted(self.edits, key=lambda e: (e[0], e[1]))
        for (_, end_a, _), (start_b, _, _) in itertools.pairwise(edits):
            if start_b < end_a:
                raise YamlEditError(
                    "overlapping edits; the values file layout is too unusual to patch"
                )
        out = self.text
        for start, end, replacement in reversed(edits):
            out = out[:start] + replacement + out[end:]
        return out


def _plain_value(text: str) -> Any:
    """What a plain scalar loads as (``1`` -> 1, ``120m`` -> "120m")."""
    return _load(f"v: {text}\n")["v"]


def _expected(data: Any, ops: Sequence[Edit], values: dict[tuple[str, ...], Any]) -> Any:
    expected = copy.deepcopy(data)
    for op in ops:
        target = expected
        for key in op.path[:-1]:
            if not isinstance(target.get(key), dict):
                if isinstance(op, RemoveValue):
                    break
                target[key] = {}
            target = target[key]
        else:
            if isinstance(op, SetValue):
                target[op.path[-1]] = values[op.path]
            else:
                target.pop(op.path[-1], None)
    return _drop_empty_maps(expected)


def _drop_empty_maps(value: Any) -> Any:
    """Treat an empty mapping and null alike: ``limits: {}`` and ``limits:`` mean the same."""
    if isinstance(value, dict):
        return {k: _drop_empty_maps(v) for k, v in value.items() if v not in ({}, None)}
    if isinstance(value, list):
        return [_drop_empty_maps(v) for v in value]
    return value


def edit_yaml(text: str, ops: Sequence[Edit]) -> str:
    """Apply ``ops`` to the YAML ``text`` and return the new text; other bytes stay as they were.

    Raises:
        YamlEditError: the file is not YAML, a path runs through an alias or a non-mapping, or
            the edited text would not load as the expected data.
    """
    if not ops:
        return text
    editor = _Editor(text)
    for op in ops:
        if isinstance(op, SetValue):
            editor.set(op)
        else:
            editor.remove(op)
    new_text = editor.result()
    if new_text != text:
        want = _expected(_load(text), ops, editor.expected)
        try:
            got = _drop_empty_maps(_load(new_text))
        except YamlEditError as exc:
            raise YamlEditError(f"editing would break the file ({exc}); edit it by hand") from exc
        if got != want:
            raise YamlEditError(
                "editing would change other values (shared anchor or merge key); edit it by hand"
            )
    return new_text
