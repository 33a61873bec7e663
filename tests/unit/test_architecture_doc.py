"""docs/architecture.md stays true: the paths it names exist, and its tree lists every module."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "kianax_capacity"

# A path in backticks that starts at a top-level folder of the repository.
_REPO_PATH = re.compile(
    r"`((?:kianax_capacity|tests|benchmarks|docs|scripts|queries|notebooks)/[\w./-]*)`"
)
# A line of the package tree: indentation, then the module or folder in backticks.
_TREE_LINE = re.compile(r"^(?P<indent> *)- `(?P<name>[\w.]+/?)`")


def tree_paths(text: str) -> list[Path]:
    """The paths of the nested list under ``kianax_capacity/``, each rebuilt from its parents."""
    paths: list[Path] = []
    parents: list[str] = []
    inside = False
    for line in text.splitlines():
        match = _TREE_LINE.match(line)
        if match is None:
            if inside and line.strip() and not line.startswith(" "):
                break  # the list ended
            continue
        depth = len(match["indent"]) // 2
        name = match["name"]
        if depth == 0:
            inside = name == "kianax_capacity/"
            parents = [name.rstrip("/")]
            continue
        if not inside:
            continue
        del parents[depth:]
        assert len(parents) == depth, f"tree line indented past its parent: {line!r}"
        paths.append(Path(*parents, name.rstrip("/")))
        if name.endswith("/"):
            parents.append(name.rstrip("/"))
    return paths


def test_tree_parser_rebuilds_nested_paths():
    text = "- `kianax_capacity/`\n  - `a.py`: x\n  - `sub/`: y\n    - `b.py`: z\n  - `c.py`: w\n"
    assert tree_paths(text) == [
        Path("kianax_capacity/a.py"),
        Path("kianax_capacity/sub"),
        Path("kianax_capacity/sub/b.py"),
        Path("kianax_capacity/c.py"),
    ]


def test_every_path_the_page_names_exists():
    text = DOC.read_text()
    named = {Path(p.rstrip(".")) for p in _REPO_PATH.findall(text)}
    named |= set(tree_paths(text))
    assert len(named) > 100
    missing = sorted(str(p) for p in named if not (ROOT / p).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_module_has_its_line_in_the_tree():
    listed = set(tree_paths(DOC.read_text()))
    modules = {p.relative_to(ROOT) for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    # A package's __init__.py may go unlisted when the package's own line says what it holds.
    unlisted = sorted(
        str(m)
        for m in modules
        if m not in listed and not (m.name == "__init__.py" and m.parent in listed)
    )
    assert not unlisted, f"modules missing from docs/architecture.md's tree: {unlisted}"
