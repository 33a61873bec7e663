"""Multi-document YAML files and literal block strings, edited without touching other bytes.

GitOps repositories keep several ArgoCD Applications in one file (``---`` separated) and
Helm values inside an Application as a ``values: |`` block string. :func:`split_documents` cuts a
file into its documents at the ``---`` lines, checked against the YAML parser (the pieces must
load as the same documents, else the file is refused), so one document can be edited and the
others stay byte-identical. :func:`read_block` finds a literal block scalar by key path and
returns the YAML inside it; :func:`replace_block` writes edited content back with the block's
own indentation, reusing the original bytes of every line that did not change.

Example:
    >>> text = "a: 1\\n---\\nb: 2\\n"
    >>> [d.text for d in split_documents(text)]
    ['a: 1\\n', 'b: 2\\n']
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from kianax_capacity.outputs.yaml_edit import YamlEditError, load_data, scalar_span

__all__ = [
    "Block",
    "Document",
    "block_value",
    "join_documents",
    "read_block",
    "replace_block",
    "split_documents",
]

_MARKER = re.compile(r"^---(?:[ \t].*)?$", re.M)
_END_MARKER = re.compile(r"^\.\.\.(?:[ \t].*)?$", re.M)


@dataclass(frozen=True)
class Document:
    """One document of a file: its text (without the ``---`` line), where it sits, its data."""

    index: int
    start: int
    end: int
    text: str
    data: Any


def split_documents(text: str) -> list[Document]:
    """The documents of ``text`` (LF, no BOM), each with its exact span.

    Raises:
        YamlEditError: the file is not YAML, uses ``...`` end markers, or its ``---`` lines do
            not split it into the documents the parser sees (a ``---`` inside a string).
    """
    if _END_MARKER.search(text):
        raise YamlEditError("the file uses '...' document end markers; edit it by hand")
    cuts: list[tuple[int, int]] = []  # (start, end) of each piece's text
    start = 0
    for match in _MARKER.finditer(text):
        cuts.append((start, match.start()))
        start = min(match.end() + 1, len(text))
    cuts.append((start, len(text)))
    try:
        parsed = [d for d in YAML(typ="safe", pure=True).load_all(text)]
    except YAMLError as exc:
        raise YamlEditError(f"not valid YAML ({' '.join(str(exc).split())[:200]})") from exc
    documents: list[Document] = []
    for piece_start, piece_end in cuts:
        piece = text[piece_start:piece_end]
        data = load_data(piece) if piece.strip() else None
        if data is None:
            continue  # comments only, or nothing before the first ---
        documents.append(Document(len(documents), piece_start, piece_end, piece, data))
    if [d.data for d in documents] != [d for d in parsed if d is not None]:
        raise YamlEditError(
            "the file's '---' lines do not separate its documents cleanly; edit it by hand"
        )
    return documents


def join_documents(text: str, replaced: dict[int, str], documents: Sequence[Document]) -> str:
    """``text`` with the documents in ``replaced`` (by index) swapped for their new text."""
    out = text
    for document in sorted(documents, key=lambda d: d.start, reverse=True):
        if document.index in replaced:
            out = out[: document.start] + replaced[document.index] + out[document.end :]
    return out


@dataclass(frozen=True)
class Block:
    """A literal block scalar (``key: |``) in a document: its lines and the YAML inside it."""

    start: int  # first character of the first content line
    end: int  # end of the last content line (before its newline)
    indent: int
    raw_lines: tuple[str, ...]
    content: str  # the scalar's value: the lines without the block's indentation

    def lines(self) -> list[str]:
        return self.content.split("\n")


def read_block(text: str, path: Sequence[str]) -> Block:
    """The literal block string at ``path`` in the document ``text``.

    Raises:
        YamlEditError: no string there, or it is not a ``|`` block whose lines can be mapped
            back to the value exactly (quoted and folded strings are refused).
    """
    where = ".".join(path)
    span = scalar_span(text, path)
    if span is None:
        raise YamlEditError(f"{where} is not a string")
    start, end, style, value = span
    if style != "|":
        kind = {">": "a folded (>) block", "'": "quoted", '"': "quoted"}.get(
            style or "", "a plain string"
        )
        raise YamlEditError(
            f"{where} is {kind}; write it as a literal block (values: |) to patch it"
        )
    header_end = text.index("\n", start) + 1
    header = text[start:header_end].split("#")[0].strip()
    if "+" in header:
        raise YamlEditError(f"{where} keeps its trailing newlines (|+); edit it by hand")
    raw = text[header_end:end].split("\n")
    while raw and not raw[-1].strip():
        raw.pop()  # trailing blank lines are not part of a clipped or stripped block
    indents = [len(line) - len(line.lstrip(" ")) for line in raw if line.strip()]
    if not indents:
        raise YamlEditError(f"{where} is an empty block string; nothing to patch")
    explicit = re.search(r"[1-9]", header)
    indent = min(indents) if explicit is None else _explicit_indent(text, start, int(explicit[0]))
    lines = [line[indent:] if line.startswith(" " * indent) else "" for line in raw]
    content = "\n".join(lines) + "\n"
    expected = content[:-1] if "-" in header else content
    if expected != value or "\t" in content:
        raise YamlEditError(
            f"{where}: the block's lines do not map back to its value; edit it by hand"
        )
    last_end = header_end + sum(len(line) + 1 for line in raw) - 1
    return Block(header_end, last_end, indent, tuple(raw), content)


def _explicit_indent(text: str, start: int, step: int) -> int:
    line_start = text.rfind("\n", 0, start) + 1
    parent = len(text[line_start:]) - len(text[line_start:].lstrip(" "))
    return parent + step


def replace_block(text: str, block: Block, new_content: str) -> str:
    """``text`` with ``block``'s content replaced by ``new_content`` (same indentation).

    Lines equal to the old content keep their original bytes (trailing spaces included); new
    or changed lines get the block's indentation. The result must load with the block's value
    equal to ``new_content`` (up to the block's chomping of the final newlines).
    """
    old = block.content.rstrip("\n").split("\n")
    new = new_content.rstrip("\n").split("\n")
    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(block.raw_lines[a0:a1])
        else:
            out.extend(" " * block.indent + line if line.strip() else "" for line in new[b0:b1])
    result = text[: block.start] + "\n".join(out) + text[block.end :]
    return result


def block_value(text: str, path: Sequence[str]) -> str | None:
    """The loaded string at ``path`` (for checking a rewritten block), or None."""
    data = load_data(text)
    for key in path:
        if isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        elif isinstance(data, dict) and key in data:
            data = data[key]
        else:
            return None
    return data if isinstance(data, str) else None
