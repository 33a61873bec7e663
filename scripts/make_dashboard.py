"""Write the Grafana dashboard (kianax_capacity/data/ and docs/examples/) from its code.

Run after editing the panels in kianax_capacity/outputs/grafana.py:
``python scripts/make_dashboard.py`` (needs the ``dashboard`` extra, in ``dev``). A test checks
that both committed files equal a fresh build, so an edit made only in the JSON would fail CI.
"""

from __future__ import annotations

from pathlib import Path

from kianax_capacity.outputs.grafana import DASHBOARD_FILE, render_dashboard

REPO = Path(__file__).resolve().parent.parent
TARGETS = (
    REPO / "kianax_capacity" / "data" / DASHBOARD_FILE,
    REPO / "docs" / "examples" / DASHBOARD_FILE,
)


def main() -> None:
    text = render_dashboard()
    for target in TARGETS:
        target.write_text(text)
        print(f"wrote {target.relative_to(REPO)}")


if __name__ == "__main__":
    main()
