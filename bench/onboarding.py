"""Onboarding time: from `camgate camera discover` to a deployed, verified site of N ONVIF cameras.

Its own testbed (index 5, state in .testbed-onboarding): N fake cameras with passwords, each with an
ONVIF simulator (tests/testbed/onvif_device.py, answering WS-Discovery) on its own address beside the
cameras, whose keyframe interval starts at 4 s (a common factory setting) and which the fake camera
follows. Then what an installer types, each step timed: `camgate init`, `camgate camera discover`,
`camgate camera add --onvif` per camera, `camgate camera tune --keyframe 1s` per camera (optional),
`camgate validate`, `pyinfra -y <site> deploy.py` (the first, on the bare host) and `camgate verify`.
Prints the times; the testbed is taken down at the end.

    python -m bench.onboarding [--cameras 8] [--no-tune]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from camgate.cli.discover import address_order
from tests.testbed import Testbed
from tests.testbed.cameras import camera_ids, onvif_state_file, start_onvif_device
from tests.testbed.proc import free_ports, terminate

STATE_DIR = Path(".testbed-onboarding").resolve()
INDEX = 5
FACTORY_GOP = 100  # a keyframe every 4 s at 25 fps


def camgate(*args: str, input: str | None = None, timeout: float = 900) -> tuple[float, subprocess.CompletedProcess]:
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "camgate.cli", *args], capture_output=True, text=True, input=input, timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"camgate {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return time.monotonic() - start, result


def new_site(state: dict, folder: Path) -> Path:
    """`camgate init` for the testbed's gateway, its SSH key and pinned host key filled in."""
    camgate("init", "onboarding", "--host", state["target_address"], "--ssh-user", state["ssh_user"], "--tls", "selfsigned",
            "--yes", "--dir", str(folder))  # fmt: skip
    toml = folder / "onboarding.toml"
    text = toml.read_text().replace('# ssh_key = "~/.ssh/id_ed25519"', f'ssh_key = "{state["ssh_key"]}"')
    toml.write_text(text.replace('# ssh_known_hosts_file = "~/.ssh/known_hosts"', f'ssh_known_hosts_file = "{state["known_hosts"]}"'))
    return folder / "onboarding.py"


def onvif_cameras(bed: Testbed, state: dict, count: int, run_dir: Path) -> tuple[list[str], list]:
    """An address per camera on the host's side of the gateway's link, a simulator there for it (its
    own account: the camera's RTSP one), and the camera restarted to follow the simulator's GOP."""
    prefix = state["host_address"].rsplit(".", 1)[0]
    addresses, devices = [], []
    for number, camera in enumerate(state["cameras"][:count], start=101):
        address = f"{prefix}.{number}"
        subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", bed.layout.veth_host], check=True, timeout=30)
        port = free_ports(1)[0]
        devices.append(start_onvif_device(run_dir, address, port, "media2", [f"main={camera['url']},H264,640x360,25,{FACTORY_GOP}"],
                                          camera["username"], camera["password"], lifetime=3600, discovery="onvif"))  # fmt: skip
        bed.start_camera(camera["id"], encoder_settings=onvif_state_file(run_dir, port))
        addresses.append(address)
    return addresses, devices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--no-tune", action="store_true", help="skip `camgate camera tune` (keyframes stay every 4 s)")
    args = parser.parse_args()
    ids = camera_ids(args.cameras)
    bed = Testbed(STATE_DIR, INDEX, cameras=args.cameras, auth_cameras=tuple(ids))
    run_dir = Path(tempfile.mkdtemp(prefix="onboarding-bench-"))
    addresses, devices = [], []
    times: list[tuple[str, float]] = []
    try:
        state = bed.up()
        addresses, devices = onvif_cameras(bed, state, args.cameras, run_dir)
        passwords = {c["id"]: c["password"] for c in state["cameras"]}
        site = new_site(state, run_dir / "inventory")
        seconds, found = camgate("camera", "discover", str(site), "--wait", "3")
        services = re.findall(r"http://(\S+?)/onvif/device_service", found.stdout)
        print(f"$ camgate camera discover {site.stem}\n{found.stdout}")
        times.append((f"camera discover ({len(services)} found)", seconds))
        if len(services) != args.cameras:
            raise SystemExit(f"discover found {len(services)} of {args.cameras} cameras")
        total_add = 0.0
        for camera_id, service in zip(ids, sorted(services, key=lambda s: address_order(s.split(":")[0]))):
            seconds, added = camgate("camera", "add", str(site), camera_id, "--onvif", service, "--username",
                                 next(c["username"] for c in state["cameras"] if c["id"] == camera_id), "--password-stdin",
                                 input=passwords[camera_id])  # fmt: skip
            total_add += seconds
            if camera_id == ids[0]:
                print(f"$ camgate camera add {site.stem} {camera_id} --onvif {service} ...\n{added.stdout}")
        times.append((f"camera add --onvif x{args.cameras}", total_add))
        times.append(("validate", camgate("validate", str(site))[0]))
        start = time.monotonic()
        deploy = subprocess.run([sys.executable, "-m", "pyinfra", "-y", str(site), "deploy.py"], capture_output=True, text=True, timeout=1800)
        if deploy.returncode != 0:
            raise SystemExit(f"deploy failed:\n{deploy.stdout[-3000:]}\n{deploy.stderr[-2000:]}")
        times.append(("pyinfra deploy (first, bare host)", time.monotonic() - start))
        if not args.no_tune:
            total_tune = 0.0
            for camera_id in ids:
                seconds, tuned = camgate("camera", "tune", str(site), camera_id, "--keyframe", "1s")
                total_tune += seconds
                if camera_id == ids[0]:
                    print(f"$ camgate camera tune {site.stem} {camera_id} --keyframe 1s\n{tuned.stdout}")
            times.append((f"camera tune --keyframe 1s x{args.cameras} (each checked from the gateway)", total_tune))
        start = time.monotonic()
        deadline = start + 300  # every camera's first segments, then the packaged checks
        while True:
            verify = subprocess.run([sys.executable, "-m", "camgate.cli", "verify", str(site)], capture_output=True, text=True, timeout=600)
            if verify.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(5)
        times.append((f"until camgate verify passes ({'passed' if verify.returncode == 0 else 'FAILED'})", time.monotonic() - start))
        print(f"$ camgate verify {site.stem}\n{verify.stdout[-1500:]}")
    finally:
        for device in devices:
            terminate(device.pid, grace=5)
            device.wait()
        for address in addresses:
            subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", bed.layout.veth_host], timeout=30)
        bed.down()
    print(f"\nonboarding {args.cameras} ONVIF cameras, discover to verified:")
    for label, seconds in times:
        print(f"  {label:70} {seconds:7.1f} s")
    print(f"  {'total':70} {sum(s for _, s in times):7.1f} s")


if __name__ == "__main__":
    main()
