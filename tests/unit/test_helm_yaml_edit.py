"""Surgical YAML edits: hand-worked layouts, the unsafe cases, and a property over random files."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from kianax_capacity.outputs.yaml_edit import RemoveValue, SetValue, YamlEditError, edit_yaml

CPU = ("resources", "requests", "cpu")


def _load(text: str) -> object:
    return YAML(typ="safe", pure=True).load(text)


def test_anchored_value_keeps_its_aliases_at_the_old_value() -> None:
    # The request is the anchor; the limit aliases it. Changing the request must not silently
    # change the limit, so the alias is written out with the old value.
    text = "resources:\n  requests:\n    cpu: &c 250m  # req\n  limits:\n    cpu: *c\n"
    out = edit_yaml(text, [SetValue(CPU, "100m")])
    assert out == "resources:\n  requests:\n    cpu: &c 100m  # req\n  limits:\n    cpu: 250m\n"


def test_alias_value_is_replaced_by_a_literal() -> None:
    text = "base: &b 250m\nresources:\n  requests:\n    cpu: *b\n"
    assert (
        edit_yaml(text, [SetValue(CPU, "100m")])
        == "base: &b 250m\nresources:\n  requests:\n    cpu: 100m\n"
    )


def test_alias_in_the_path_is_refused() -> None:
    text = "shared: &r\n  requests:\n    cpu: 1\nresources: *r\n"
    with pytest.raises(YamlEditError, match="alias"):
        edit_yaml(text, [SetValue(CPU, "2")])


def test_merge_key_value_is_overridden_locally() -> None:
    # `<<` merges defaults; an explicit key beside it wins, so the default stays untouched.
    text = "d: &d\n  cpu: 250m\nresources:\n  requests:\n    <<: *d\n    memory: 1Gi\n"
    out = edit_yaml(text, [SetValue(CPU, "100m")])
    assert out == (
        "d: &d\n  cpu: 250m\nresources:\n  requests:\n    <<: *d\n    memory: 1Gi\n    cpu: 100m\n"
    )


def test_block_scalar_is_refused() -> None:
    with pytest.raises(YamlEditError, match="block scalar"):
        edit_yaml("resources:\n  requests:\n    cpu: |\n      250m\n", [SetValue(CPU, "1")])


def test_empty_value_and_null_become_blocks_keeping_comments() -> None:
    text = "resources:\n  requests:   # to fill\n  limits: ~  # none\n"
    out = edit_yaml(text, [SetValue(CPU, "1"), SetValue(("resources", "limits", "memory"), "1Gi")])
    assert out == (
        "resources:\n  requests:   # to fill\n    cpu: 1\n  limits:  # none\n    memory: 1Gi\n"
    )


def test_removing_every_key_leaves_an_empty_mapping() -> None:
    text = "resources:\n  limits:  # caps\n    cpu: 500m\n  requests:\n    cpu: 1\n"
    out = edit_yaml(text, [RemoveValue(("resources", "limits", "cpu"))])
    assert out == "resources:\n  limits: {}  # caps\n  requests:\n    cpu: 1\n"


def test_remove_and_insert_in_the_same_mapping() -> None:
    text = "resources:\n  limits:\n    cpu: 500m\n"
    out = edit_yaml(
        text,
        [
            RemoveValue(("resources", "limits", "cpu")),
            SetValue(("resources", "limits", "memory"), "1Gi"),
        ],
    )
    assert out == "resources:\n  limits:\n    memory: 1Gi\n"


def test_flow_mapping_edits() -> None:
    text = "resources: {requests: {cpu: 250m, memory: 1Gi}}\n"
    assert edit_yaml(text, [RemoveValue(("resources", "requests", "cpu"))]) == (
        "resources: {requests: {memory: 1Gi}}\n"
    )
    assert edit_yaml(text, [SetValue(("resources", "limits", "cpu"), "1")]) == (
        "resources: {requests: {cpu: 250m, memory: 1Gi}, limits: {cpu: 1}}\n"
    )


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(YamlEditError, match="not a mapping"):
        edit_yaml("- a\n- b\n", [SetValue(CPU, "1")])
    with pytest.raises(YamlEditError, match="not valid YAML"):
        edit_yaml("a: [\n", [SetValue(CPU, "1")])


# Prefixed so no generated key is a YAML keyword (true, no, null...).
_names = st.text(string.ascii_lowercase, min_size=1, max_size=6).map(lambda name: f"k_{name}")
_quantities = st.sampled_from(["100m", "250m", "1", "2", "64Mi", "1Gi", "512Mi", "1500m"])
_styles = st.sampled_from(["{}", "'{}'", '"{}"'])


@settings(max_examples=60, deadline=None)
@given(
    extra=st.dictionaries(
        _names.filter(lambda k: k != "resources"), st.integers(0, 99), max_size=4
    ),
    current=st.dictionaries(
        st.sampled_from(["cpu", "memory"]), st.tuples(_quantities, _styles), max_size=2
    ),
    new=st.dictionaries(st.sampled_from(["cpu", "memory"]), _quantities, min_size=1, max_size=2),
    comment=st.booleans(),
)
def test_only_the_targeted_values_change(
    extra: dict[str, int], current: dict[str, tuple[str, str]], new: dict[str, str], comment: bool
) -> None:
    lines = [f"{k}: {v}  # keep me" if comment else f"{k}: {v}" for k, v in extra.items()]
    lines.append("resources:")
    lines.append("  requests:" if current else "  requests: {}")
    for key, (value, style) in current.items():
        lines.append(f"    {key}: {style.format(value)}" + ("  # note" if comment else ""))
    text = "\n".join(lines) + "\n"
    out = edit_yaml(text, [SetValue(("resources", "requests", k), v) for k, v in new.items()])
    before, after = _load(text), _load(out)
    assert isinstance(before, dict) and isinstance(after, dict)
    for key, number in extra.items():
        assert after[key] == number
    requests = after["resources"]["requests"]
    for key, quantity in new.items():
        assert str(requests[key]) == quantity
    # Lines that carry none of the edited keys are unchanged and in the same order.
    untouched = [line for line in text.splitlines() if not any(f"    {k}:" in line for k in new)]
    kept = [line for line in out.splitlines() if line in untouched]
    assert kept == [line for line in untouched if line != "  requests: {}"]
    # An existing value keeps its quoting.
    for key, (_, style) in current.items():
        if key in new and style != "{}":
            assert f"    {key}: {style.format(new[key])}" in out
