"""Every name, address and path of one testbed, derived from its index and state directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_INDEX = 15
CAMERA_BASE_PORT = 8554
AUTH_USERNAME = "viewer"


@dataclass(frozen=True)
class Layout:
    index: int
    state_dir: Path  # absolute

    @classmethod
    def create(cls, state_dir: Path | str, index: int) -> "Layout":
        if not isinstance(index, int) or not 0 <= index <= MAX_INDEX:
            raise ValueError(f"testbed index must be an integer 0..{MAX_INDEX}, got {index!r}")
        return cls(index=index, state_dir=Path(state_dir).expanduser().resolve())

    # names ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Machine name, network namespace name and SSH alias."""
        return f"camgate-tb{self.index}"

    @property
    def netns(self) -> str:
        return self.name

    @property
    def veth_host(self) -> str:
        return f"cgtb{self.index}h"

    @property
    def veth_target(self) -> str:
        return "eth0"

    @property
    def nft_table(self) -> str:
        return f"camgate_tb{self.index}"

    # addresses -----------------------------------------------------------------------------
    @property
    def subnet(self) -> str:
        return f"10.231.{self.index}.0"

    @property
    def host_address(self) -> str:
        return f"10.231.{self.index}.1"

    @property
    def target_address(self) -> str:
        return f"10.231.{self.index}.2"

    def camera_port(self, number: int) -> int:
        return CAMERA_BASE_PORT + number - 1

    @property
    def domain(self) -> str:
        """Test DNS name of the target: the ACME server's DNS (pebble-challtestsrv) resolves it."""
        return f"tb{self.index}.camgate.test"

    # paths ---------------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.toml"

    @property
    def root(self) -> Path:
        """Mount point of the overlay: the container's /."""
        return self.state_dir / "root"

    @property
    def overlay_dir(self) -> Path:
        return self.state_dir / "overlay"

    @property
    def upper_dir(self) -> Path:
        return self.overlay_dir / "upper"

    @property
    def work_dir(self) -> Path:
        return self.overlay_dir / "work"

    @property
    def run_dir(self) -> Path:
        """PID files and camera secrets of running processes."""
        return self.state_dir / "run"

    @property
    def ssh_dir(self) -> Path:
        return self.state_dir / "ssh"

    @property
    def ssh_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        return self.ssh_dir / "ssh_config"

    @property
    def container_log(self) -> Path:
        return self.state_dir / "container.log"

    def camera_log(self, camera_id: str) -> Path:
        return self.state_dir / f"camera-{camera_id}.log"

    @property
    def acme_dir(self) -> Path:
        """pebble's config, its API certificate and the CA that signed it (made by `up --acme`)."""
        return self.state_dir / "acme"

    @property
    def pebble_log(self) -> Path:
        return self.state_dir / "pebble.log"

    @property
    def challtestsrv_log(self) -> Path:
        return self.state_dir / "challtestsrv.log"

    def pid_file(self, what: str) -> Path:
        return self.run_dir / f"{what}.pid"

    @property
    def propagate_dir(self) -> Path:
        """nspawn leaves this behind because /run is not a tmpfs on these machines."""
        return Path("/run/systemd/nspawn/propagate") / self.name
