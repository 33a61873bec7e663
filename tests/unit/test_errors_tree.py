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
    public = [getattr(errors, name) for name in errors.__all__]
    classes = [obj for obj in public if isinstance(obj, type)]
    assert len(classes) >= 14
    for cls in classes:
        assert issubclass(cls, errors.KianaxCapacityError), cls
        assert cls.__name__ in drawing, f"{cls.__name__} missing from the tree in errors.py"
        assert cls.__doc__, cls


def test_a_mention_is_respelled_only_where_the_interface_knows_it() -> None:
    flags = {"url": "--prometheus-url", "timeout_seconds": "--timeout"}.get
    text = "pass `url` or set [prometheus] url; raise `timeout_seconds`; keep `aws sso login`"
    assert errors.respell(text, flags) == (
        "pass --prometheus-url or set [prometheus] url; raise --timeout; keep `aws sso login`"
    )
    # A mention the interface has no spelling for stays as the library wrote it.
    assert errors.respell("check `region`", flags) == "check `region`"


def test_an_error_names_its_parameter_and_mentions_as_the_library_spells_them() -> None:
    exc = errors.UserInputError("'ftp://x' must start with http://; see `auth`", parameter="url")
    assert str(exc) == "url: 'ftp://x' must start with http://; see `auth`"
    spelled = exc.render({"url": "--prometheus-url", "auth": "--auth"}.get)
    assert spelled == "--prometheus-url: 'ftp://x' must start with http://; see --auth"
    assert exc.render(lambda name: None) == str(exc)
    plain = errors.AwsError("no AWS region for ec2: pass `region` or set [aws] region")
    assert plain.render({"region": "--region"}.get) == (
        "no AWS region for ec2: pass --region or set [aws] region"
    )
