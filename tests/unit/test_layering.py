"""Imports point one way: the pure recommenders never reach for I/O libraries."""

import ast
from pathlib import Path

import kianax_capacity

PACKAGE = Path(kianax_capacity.__file__).parent
FORBIDDEN_IN_RECOMMEND = {
    "boto3",
    "botocore",
    "prometheus_api_client",
    "plotly",
    "papermill",
    "requests",
    "nbconvert",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_recommenders_do_no_io():
    # prices/ is the embedded catalogue and the credit rules: pure like the recommenders, since
    # the AWS price reader lives under sources/ (sources/aws_prices.py).
    files = sorted((PACKAGE / "recommenders").rglob("*.py")) + sorted(
        (PACKAGE / "prices").rglob("*.py")
    )
    assert len(files) > 20
    for file in files:
        bad = {name.split(".")[0] for name in _imports(file)} & FORBIDDEN_IN_RECOMMEND
        assert not bad, f"{file.name} imports {bad}"
        inner = {name for name in _imports(file) if name.startswith("kianax_capacity.")}
        assert not any(
            name.startswith(
                ("kianax_capacity.cli", "kianax_capacity.outputs", "kianax_capacity.sources")
            )
            for name in inner
        ), f"{file.name} imports an outer layer: {inner}"


def test_public_api_is_honest():
    for name in kianax_capacity.__all__:
        assert hasattr(kianax_capacity, name), name
