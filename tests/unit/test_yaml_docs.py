"""Multi-document splitting and literal-block editing (kianax_capacity.outputs.yaml_docs)."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from kianax_capacity.outputs.yaml_docs import (
    block_value,
    join_documents,
    read_block,
    replace_block,
    split_documents,
)
from kianax_capacity.outputs.yaml_edit import SetValue, YamlEditError, edit_yaml

KEY = ("spec", "source", "helm", "values")


def _app(header: str, body: str) -> str:
    return f"kind: Application\nspec:\n  source:\n    helm:\n      values: {header}\n{body}  project: x\n"


def test_documents_rejoin_to_the_same_bytes_and_one_can_be_replaced() -> None:
    text = "# head\n---\na: 1  # one\n---\nb: 2\n\n---\n# only a comment\n"
    docs = split_documents(text)
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}]
    assert join_documents(text, {}, docs) == text
    new = join_documents(text, {1: "b: 3\n\n"}, docs)
    assert new == "# head\n---\na: 1  # one\n---\nb: 3\n\n---\n# only a comment\n"


def test_marker_lines_that_are_not_plain_separators_are_refused() -> None:
    text = "a: |\n  x\n---\nb: 1\n"  # fine: the block ends before ---
    assert len(split_documents(text)) == 2
    with pytest.raises(YamlEditError, match="document end markers"):
        split_documents("a: 1\n...\n")
    with pytest.raises(YamlEditError, match="not valid YAML"):
        split_documents('a: "x\n---\ny"\n')  # YAML itself forbids a column-0 --- in a string
    with pytest.raises(YamlEditError, match="do not separate"):
        split_documents("a: 1\n--- b\n")  # content on the marker line


def test_stripped_block_with_blank_lines_keeps_untouched_lines_byte_for_byte() -> None:
    body = "        a: 1\n          \n        # keep me\n        b:\n          c: 2\n"
    text = _app("|-", body)
    block = read_block(text, KEY)
    assert block.content == "a: 1\n  \n# keep me\nb:\n  c: 2\n"
    new_content = edit_yaml(block.content, [SetValue(("b", "c"), "3")])
    new = replace_block(text, block, new_content)
    assert new == _app("|-", body.replace("c: 2", "c: 3"))
    assert block_value(new, KEY) == new_content[:-1]  # |- strips the final newline


def test_explicit_indentation_indicator() -> None:
    text = _app("|2", "          a: 1\n")  # content indented 2 more than `values:`'s line (6)
    block = read_block(text, KEY)
    assert block.indent == 8 and block.content == "  a: 1\n"


@pytest.mark.parametrize(
    ("header", "message"), [(">", "folded"), ("|+", "keeps its trailing"), ('"a: 1"', "quoted")]
)
def test_blocks_that_cannot_be_mapped_back_are_refused(header: str, message: str) -> None:
    body = "        a: 1\n" if header != '"a: 1"' else ""
    with pytest.raises(YamlEditError, match=message):
        read_block(_app(header, body), KEY)


def test_edit_walks_list_items_by_index() -> None:
    text = "spec:\n  sources:\n    - ref: v  # values repo\n    - chart: x\n      helm: {}\n"
    new = edit_yaml(text, [SetValue(("spec", "sources", "1", "helm", "a"), "1")])
    assert YAML(typ="safe").load(new)["spec"]["sources"][1]["helm"] == {"a": 1}
    assert new.startswith("spec:\n  sources:\n    - ref: v  # values repo\n")
    with pytest.raises(YamlEditError, match="has no item 5"):
        edit_yaml(text, [SetValue(("spec", "sources", "5", "a"), "1")])
