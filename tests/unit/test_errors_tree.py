"""The exception tree is one place: every public error class lives in errors.py and its drawing."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import kianax_capacity
from kianax_capacity import errors

PACKAGE = Path(kianax_capacity.__file__).parent


def _exception_classes_outside_errors() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            bases = {ast.unparse(base).split(".")[-1] for base in node.bases}
            if any(base.endswith(("Error", "Exception")) for base in bases):
                found.append(f"{path.relative_to(PACKAGE)}:{node.name}")
    return found


def test_every_public_error_class_is_defined_in_errors_py() -> None:
    assert _exception_classes_outside_errors() == []


def test_the_drawing_names_every_error_and_every_error_derives_from_the_root() -> None:
    drawing = inspect.getdoc(errors) or ""
    classes = [getattr(errors, name) for name in errors.__all__]
    assert len(classes) >= 14
    for cls in classes:
        assert issubclass(cls, errors.KianaxCapacityError), cls
        assert cls.__name__ in drawing, f"{cls.__name__} missing from the tree in errors.py"
        assert cls.__doc__, cls
