#!/usr/bin/env python
"""Compare two snapshot folders table by table: same columns, dtypes and rows (order-free).

    python benchmarks/compare_snapshots.py A B

Rows are sorted by every column that is not a float, then compared; floats must agree to
1e-12 relative (NaN equals NaN). String columns are compared as objects whether they were
written as objects or as categoricals: the snapshot contract lets any "str" column be either
(``TABLE_COLUMNS``), and Parquet reads them back as different dtypes. Exit status
1 and one line per difference otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in frame.columns if not pd.api.types.is_float_dtype(frame[c])]
    floats = [c for c in frame.columns if c not in keys]
    return frame.sort_values([*keys, *floats], kind="stable").reset_index(drop=True)


def _read(path: Path) -> pd.DataFrame:
    """A table with its string columns (categorical or not) as object columns."""
    frame = pd.read_parquet(path)
    for column in frame.columns:
        dtype = frame[column].dtype
        if isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype)):
            frame[column] = frame[column].astype(object)
    return frame


def compare(a: Path, b: Path) -> list[str]:
    """Differences between snapshot folders ``a`` and ``b`` (empty when they match)."""
    problems: list[str] = []
    tables_a = json.loads((a / "manifest.json").read_text())["tables"]
    tables_b = json.loads((b / "manifest.json").read_text())["tables"]
    if sorted(tables_a) != sorted(tables_b):
        return [f"table sets differ: {sorted(tables_a)} vs {sorted(tables_b)}"]
    for name in sorted(tables_a):
        left = _read(a / tables_a[name]["file"])
        right = _read(b / tables_b[name]["file"])
        if list(left.columns) != list(right.columns):
            problems.append(f"{name}: columns {list(left.columns)} vs {list(right.columns)}")
            continue
        if list(left.dtypes.astype(str)) != list(right.dtypes.astype(str)):
            problems.append(f"{name}: dtypes {dict(left.dtypes)} vs {dict(right.dtypes)}")
        if len(left) != len(right):
            problems.append(f"{name}: {len(left)} vs {len(right)} rows")
            continue
        left, right = _sorted(left), _sorted(right)
        for column in left.columns:
            x, y = left[column], right[column]
            if pd.api.types.is_float_dtype(x):
                xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
                same = (np.isnan(xv) & np.isnan(yv)) | np.isclose(xv, yv, rtol=1e-12, atol=0.0)
            else:
                same = (x.isna() & y.isna()).to_numpy() | (x == y).fillna(False).to_numpy()
            if not same.all():
                bad = int((~same).sum())
                first = int(np.argmin(same))
                problems.append(
                    f"{name}.{column}: {bad} rows differ, e.g. {x.iloc[first]!r} vs {y.iloc[first]!r}"
                )
        print(f"{name}: {len(left)} rows compared", file=sys.stderr)
    return problems


def main() -> int:
    problems = compare(Path(sys.argv[1]), Path(sys.argv[2]))
    for line in problems:
        print(line)
    print("IDENTICAL" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
