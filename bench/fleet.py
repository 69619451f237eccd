"""A fleet of gateways: `camgate status` and `camgate verify` over one gateway and over N at once.

N fresh testbed hosts (one simulated camera each, self-signed TLS), deployed in one pyinfra run;
then each command is timed ROUNDS times over the first gateway's inventory alone and over N
inventories (one per gateway, as an installer keeps them), and the medians compared. Goal: N = 4
takes at most 1.5 times one. Bounded: ROUNDS runs of each command; the testbeds are removed at the end.

    python -m bench.fleet [--indexes 1,2,3,4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.testbed import Testbed

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    start = time.monotonic()
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    return time.monotonic() - start, result


def inventory_files(folder: Path, dirs: list[Path]) -> list[str]:
    """One inventory per gateway, as a fleet is kept."""
    files = []
    for index, state_dir in enumerate(dirs):
        path = folder / f"site{index}.py"
        path.write_text(f"from tests.testbed.inventory import testbed_gateway\ngateways = [testbed_gateway({str(state_dir)!r})]\n")
        files.append(str(path))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indexes", default="1,2,3,4", help="testbed indexes to use (one gateway each)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    indexes = [int(i) for i in args.indexes.split(",")]
    dirs = [ROOT / f".testbed-fleet{i}" for i in indexes]
    beds = [Testbed(state_dir=d, index=i, cameras=1, auth_cameras=()) for d, i in zip(dirs, indexes)]
    env = {**os.environ, "CAMGATE_TESTBED_DIR": ",".join(map(str, dirs))}
    try:
        for bed in beds:
            bed.up()
        seconds, result = timed([sys.executable, "-m", "pyinfra", "-y", "inventory/testbed.py", "deploy.py"], env)
        if result.returncode != 0:
            raise SystemExit(f"deploy failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
        print(f"{len(beds)} gateways deployed in one pyinfra run: {seconds:.1f} s, {os.cpu_count()} cores")
        with tempfile.TemporaryDirectory() as tmp:
            inventories = inventory_files(Path(tmp), dirs)
            print(f"{'command':>8} {'1 gateway s':>12} {f'{len(beds)} gateways s':>14} {'ratio':>6}  result")
            for command in ("status", "verify"):
                one, many = [], []
                for _ in range(args.rounds):
                    took, single = timed([sys.executable, "-m", "camgate.cli", command, inventories[0]], env)
                    one.append(took)
                    took, fleet = timed([sys.executable, "-m", "camgate.cli", command, *inventories], env)
                    many.append(took)
                outcome = "all pass" if single.returncode == fleet.returncode == 0 else f"exit {single.returncode}/{fleet.returncode}"
                ratio = statistics.median(many) / statistics.median(one)
                print(f"{command:>8} {statistics.median(one):12.1f} {statistics.median(many):14.1f} {ratio:6.2f}  {outcome}", flush=True)
    finally:
        for bed in beds:
            bed.down()


if __name__ == "__main__":
    main()
