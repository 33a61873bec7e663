"""Rebuild the reference data embedded in ``kianax_capacity/data/`` (a dev script, not shipped).

Inputs:
  * the on-demand price CSV and the Spot Instance Advisor JSON in the shared data folder
    (``--shared``, default ``/work/shared/data``), see that folder's README for their dates;
  * the EC2 instance-type specs that ship inside the installed ``moto`` package
    (``moto/ec2/resources/instance_types.json.gz``, a dump of ``DescribeInstanceTypes``).

Outputs (overwritten):
  * ``ec2-on-demand-prices-us-east-1.csv``  copied as is;
  * ``spot-advisor-us-east-1-linux.json``   the advisor trimmed to us-east-1 Linux;
  * ``instance-specs.csv``                  vCPU, memory, architecture, ENIs, IPv4 per ENI.

Run: ``/work/main/.venv/bin/python scripts/build_reference_data.py``
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import shutil
from importlib.metadata import version
from pathlib import Path
from typing import Any

import moto

DATA = Path(__file__).resolve().parents[1] / "kianax_capacity" / "data"
PRICES_CSV = "ec2-on-demand-prices-us-east-1.csv"
SPOT_JSON = "spot-advisor-us-east-1-linux.json"
SPECS_CSV = "instance-specs.csv"
MIB = 1024**2

# Kubernetes names architectures amd64/arm64; EC2 says x86_64/arm64 (and *_mac for Mac hosts,
# which cannot join EKS, so they are left out).
_ARCHITECTURES = {"x86_64": "amd64", "arm64": "arm64"}


def build_specs(out: Path) -> int:
    """Write instance-specs.csv from moto's DescribeInstanceTypes dump; return the row count."""
    source = Path(moto.__file__).parent / "ec2" / "resources" / "instance_types.json.gz"
    with gzip.open(source, "rt") as handle:
        types: dict[str, dict[str, Any]] = json.load(handle)
    rows = []
    for name, info in sorted(types.items()):
        architectures = [
            _ARCHITECTURES[a]
            for a in info["ProcessorInfo"]["SupportedArchitectures"]
            if a in _ARCHITECTURES
        ]
        if not architectures:
            continue
        network = info["NetworkInfo"]
        rows.append(
            {
                "instance_type": name,
                "vcpu": info["VCpuInfo"]["DefaultVCpus"],
                "memory_bytes": info["MemoryInfo"]["SizeInMiB"] * MIB,
                "architecture": architectures[0],
                "max_enis": network["MaximumNetworkInterfaces"],
                "ipv4_per_eni": network["Ipv4AddressesPerInterface"],
            }
        )
    with out.open("w", newline="") as handle:
        handle.write(
            f"# EC2 instance specs from moto {version('moto')} "
            "(moto/ec2/resources/instance_types.json.gz, a DescribeInstanceTypes dump); "
            "built by scripts/build_reference_data.py\n"
        )
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def build_spot(source: Path, out: Path) -> int:
    """Write the Spot Advisor trimmed to us-east-1 Linux; return the number of types."""
    advisor = json.loads(source.read_text())
    linux = advisor["spot_advisor"]["us-east-1"]["Linux"]
    trimmed = {
        "source": "EC2 Spot Instance Advisor spot-advisor-data.json",
        "as_of": "2025-07",
        "region": "us-east-1",
        "os": "Linux",
        # By index: "r" in each row is a position in this list (do not use the "max" field).
        "ranges": [r["label"] for r in sorted(advisor["ranges"], key=lambda r: r["index"])],
        "instance_types": {
            name: {"s": row["s"], "r": row["r"]} for name, row in sorted(linux.items())
        },
    }
    out.write_text(json.dumps(trimmed, indent=0, sort_keys=False) + "\n")
    return len(trimmed["instance_types"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args()
    shutil.copyfile(args.shared / PRICES_CSV, args.out / PRICES_CSV)
    specs = build_specs(args.out / SPECS_CSV)
    spot = build_spot(args.shared / "spot-advisor-data.json", args.out / SPOT_JSON)
    print(f"wrote {specs} instance specs, {spot} spot advisor rows, prices copied to {args.out}")


if __name__ == "__main__":
    main()
