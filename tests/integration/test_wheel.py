"""The wheel carries what the package reads at run time: PromQL, notebooks, prices, schema."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout, unpacked into a folder with no checkout near it."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(out.glob("kianax_capacity-*.whl"))
    target = out / "site"
    zipfile.ZipFile(wheel).extractall(target)
    return target


def test_installed_package_finds_its_data_without_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    code = (
        "import kianax_capacity, pathlib;"
        "from kianax_capacity.sources.prometheus.promql import load_template, template_parameters;"
        "from kianax_capacity.outputs.report import notebook_path;"
        "from kianax_capacity.prices import embedded_catalog;"
        "from kianax_capacity.recommendations import validate_recommendations_json;"
        "assert 'kianax_capacity' in load_template('cpu_usage') or load_template('cpu_usage');"
        "print(pathlib.Path(kianax_capacity.__file__).parent);"
        "print(notebook_path('weekly_report'));"
        "print(embedded_catalog().price('t3.medium').on_demand_hourly_usd)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,  # not the checkout: nothing falls back to ./queries or ./notebooks
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    package, notebook, price = result.stdout.split()
    assert Path(package).is_relative_to(installed)
    assert Path(notebook).is_relative_to(installed)
    assert float(price) == pytest.approx(0.0416)
