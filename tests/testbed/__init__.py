"""The local testbed: a throwaway systemd Debian host (systemd-nspawn) plus simulated RTSP cameras.

    bed = Testbed(state_dir=".testbed", index=0, cameras=3, auth_cameras=("cam3",), acme=True, zoo=True,
                  suite="bookworm")
    bed.up()      # rootfs of the Debian suite (bookworm or trixie; cached), netns + veth + NAT, overlay root, boot, SSH pinned, cameras,
                  # and with acme=True an ACME server (pebble) the target can get certificates from;
                  # zoo=True (or a tuple of zoo ids) adds the camera zoo (tests.testbed.zoo): H.265,
                  # G.711, MJPEG, 4 s GOP, sub profiles, digest auth, jumping timestamps
    bed.down()    # everything up() made is removed again; safe to call at any point

Everything a deploy needs to reach it is written to <state_dir>/state.json (0600), which
inventory/testbed.py reads (tests.testbed.inventory). See docs/testbed.md.
"""

from __future__ import annotations

import json
import secrets
import signal
from pathlib import Path

from camgate.passwords import hash_password

from . import cameras as camera_procs
from . import container, network, pebble, rootfs, ssh
from . import zoo as camera_zoo
from .errors import TestbedError
from .layout import Layout
from .proc import log, phase, signal_pid, terminate

__all__ = ["Testbed", "TestbedError"]


APP_USERS = ("alice", "bob")
METRICS_USER = "prometheus"


def make_app_users() -> tuple[dict, str]:
    """Random passwords for the testbed's app users: plaintext in the state (for tests and demos),
    only the hash in the secrets file the inventory reads (key app-<name>)."""
    users, lines = {}, []
    for name in APP_USERS:
        password = secrets.token_urlsafe(12)
        users[name] = {"password": password}
        lines.append(f"app-{name} = {json.dumps(hash_password(password))}\n")
    return users, "".join(lines)


def make_site_secrets() -> str:
    """Secrets a site keeps in its store: a URL signing secret (key url-signing, which a gateway with
    caching edges needs) and an edge credential (key edge-credential, for the testbed as an edge)."""
    return "".join(f"{key} = {json.dumps(secrets.token_urlsafe(32))}\n" for key in ("url-signing", "edge-credential"))


def make_metrics_user() -> tuple[dict, str]:
    """The same for the user Prometheus scrapes the gateway's metrics with (key metrics)."""
    password = secrets.token_urlsafe(12)
    return {"user": METRICS_USER, "password": password}, f"metrics = {json.dumps(hash_password(password))}\n"


class Testbed:
    __test__ = False  # not a pytest test class, despite the name
    def __init__(
        self,
        state_dir: str | Path = ".testbed",
        index: int = 0,
        cameras: int = 3,
        auth_cameras: tuple[str, ...] = ("cam3",),
        acme: bool = False,
        zoo: bool | tuple[str, ...] = False,
        suite: str = rootfs.DEFAULT_SUITE,
    ):
        self.layout = Layout.create(state_dir, index)
        self.suite = rootfs.check_suite(suite)
        if not 0 <= cameras <= 16:  # 0: a host without simulated cameras (a caching edge)
            raise TestbedError(f"cameras must be 0..16, got {cameras}")
        self.camera_count = cameras
        self.auth_cameras = tuple(auth_cameras)
        self.acme = acme
        ids = [c.id for c in camera_zoo.ZOO]
        self.zoo_ids = tuple(ids if zoo is True else zoo or ())
        unknown = sorted(set(self.zoo_ids) - set(ids))
        if unknown:
            raise TestbedError(f"unknown zoo cameras {', '.join(unknown)}; the zoo has {', '.join(ids)}")
        self.timings: dict[str, float] = {}

    # public ----------------------------------------------------------------------------------
    def up(self) -> dict:
        """Bring the testbed up from whatever state it is in; return the state written to disk."""
        layout = self.layout
        layout.state_dir.mkdir(parents=True, exist_ok=True)
        layout.state_dir.chmod(0o700)
        if self.leftovers():
            log(f"{layout.name}: cleaning up what an earlier run left behind")
            self.down()
        try:
            with phase("rootfs", self.timings):
                base, cached = rootfs.ensure_base_tree(self.suite)
                log(f"{self.suite} rootfs {'from cache' if cached else 'built'}: {base}")
            with phase("network", self.timings):
                network.setup(layout)
            with phase("boot", self.timings):
                key = ssh.ensure_client_key(layout)
                container.mount_overlay(layout, base)
                container.customize_root(layout, ssh.public_key(layout))
                ssh.write_known_hosts(layout, ssh.target_host_keys(layout.root))
                ssh.write_ssh_config(layout)
                supervisor = container.start(layout)
                container.wait_for_ssh(layout, supervisor)
                container.wait_for_system_running(layout)
            with phase("cameras", self.timings):
                entries, camera_secrets = self.start_cameras()
                zoo_entries, zoo_secrets = self.start_zoo()
                camera_secrets += zoo_secrets
                app_users, app_secrets = make_app_users()
                metrics_user, metrics_secret = make_metrics_user()
                camera_procs.write_private(layout.secrets_file, camera_secrets + app_secrets + metrics_secret + make_site_secrets())
            acme = None
            if self.acme:
                with phase("acme", self.timings):
                    acme = pebble.start(layout)
            state = {
                "name": layout.name,
                "index": layout.index,
                "suite": self.suite,
                "target_address": layout.target_address,
                "host_address": layout.host_address,
                "ssh_user": "root",
                "ssh_port": 22,
                "ssh_key": str(key),
                "known_hosts": str(layout.known_hosts),
                "ssh_config": str(layout.ssh_config),
                "ssh_alias": layout.name,
                "cameras": entries,
                "zoo": zoo_entries,
                "app_users": app_users,
                "metrics": metrics_user,
                "domain": layout.domain,
                "timings": self.timings,
            }
            if acme is not None:
                state["acme"] = acme
            self.write_state(state)
            return state
        except BaseException:
            log(f"{layout.name}: bringing the testbed up failed; tearing down what was made")
            self.down()
            raise

    def down(self) -> None:
        """Stop ACME server, cameras and container, unmount, remove network and state. Idempotent."""
        layout = self.layout
        with phase("down", self.timings):
            pebble.stop(layout)
            camera_procs.stop_cameras(layout)
            container.stop(layout)
            container.unmount_overlay(layout)
            container.remove_leftovers(layout)
            network.teardown(layout)
            ssh.remove_pinning(layout)
            layout.state_file.unlink(missing_ok=True)
            layout.secrets_file.unlink(missing_ok=True)

    def status(self) -> dict:
        """What is running now, for `camgate testbed status`."""
        layout = self.layout
        state = self.read_state() or {}
        info = {
            "name": layout.name,
            "state_dir": str(layout.state_dir),
            "network": network.is_up(layout),
            "overlay_mounted": container.overlay_mounted(layout),
            "container": container.is_running(layout),
            "ssh": ssh.sshd_answers(layout.target_address, timeout=0.5) if network.is_up(layout) else False,
            "cameras": {
                c["id"]: camera_procs.camera_alive(c) for c in state.get("cameras", []) + state.get("zoo", [])
            },
        }
        if "acme" in state or pebble.acme_processes(layout):
            info["acme"] = pebble.is_running(layout)
        return info

    # camera faults (the reliability tests use these) ------------------------------------------
    def kill_camera(self, camera_id: str) -> None:
        """SIGKILL one camera: the RTSP connection drops at once, like a camera losing power."""
        signal_pid(self._camera(camera_id)["pid"], signal.SIGKILL)

    def freeze_camera(self, camera_id: str, frozen: bool = True) -> None:
        """SIGSTOP (or SIGCONT) one camera: it keeps its connections open but sends nothing."""
        signal_pid(self._camera(camera_id)["pid"], signal.SIGSTOP if frozen else signal.SIGCONT)

    def start_camera(self, camera_id: str, password: str | None = None, encoder_settings: Path | None = None) -> dict:
        """Start a camera again on its port (after kill_camera), with its own or another password; with
        `encoder_settings` (an ONVIF simulator's state file) its keyframe interval follows that file."""
        state = self.read_state() or {}
        entry = self._camera(camera_id)
        terminate(entry["pid"], grace=2.0)
        if password is None:
            password = entry.get("password")
        fresh = camera_procs.restart_camera(self.layout, entry, password, encoder_settings)
        for key in ("cameras", "zoo"):
            state[key] = [fresh if c["id"] == camera_id else c for c in state.get(key, [])]
        self.write_state(state)
        return fresh

    def _camera(self, camera_id: str) -> dict:
        state = self.read_state() or {}
        for entry in state.get("cameras", []) + state.get("zoo", []):
            if entry["id"] == camera_id:
                return entry
        raise TestbedError(f"{self.layout.name} has no camera {camera_id!r}")

    def read_state(self) -> dict | None:
        try:
            return json.loads(self.layout.state_file.read_text())
        except (OSError, ValueError):
            return None

    # steps -----------------------------------------------------------------------------------
    def leftovers(self) -> bool:
        layout = self.layout
        return (
            network.is_up(layout)
            or container.overlay_mounted(layout)
            or container.is_running(layout)
            or bool(camera_procs.camera_pids(layout))
            or bool(pebble.acme_processes(layout))
            or layout.state_file.exists()
        )

    def start_cameras(self) -> tuple[list[dict], str]:
        """Start the cameras; return their state entries and the secrets-file lines of their passwords."""
        layout = self.layout
        layout.run_dir.mkdir(parents=True, exist_ok=True)
        entries = []
        secrets_lines = []
        for number, camera_id in enumerate(camera_procs.camera_ids(self.camera_count), start=1):
            password = camera_procs.new_password() if camera_id in self.auth_cameras else None
            entries.append(camera_procs.start_camera(layout, number, password))
            if password is not None:
                secrets_lines.append(f"{camera_id} = {json.dumps(password)}\n")
        return entries, "".join(secrets_lines)

    def start_zoo(self) -> tuple[list[dict], str]:
        """Start the zoo cameras asked for (each on its own port slot, see zoo.FIRST_ZOO_NUMBER); return
        their state entries and the secrets-file lines of their passwords."""
        entries, secrets_lines = [], []
        for cam in camera_zoo.ZOO:
            if cam.id not in self.zoo_ids:
                continue
            password = camera_procs.new_password() if cam.auth else None
            entries.append(camera_procs.start_zoo_camera(self.layout, cam, password))
            if password is not None:
                secrets_lines.append(f"{cam.id} = {json.dumps(password)}\n")
        return entries, "".join(secrets_lines)

    def write_state(self, state: dict) -> None:
        tmp = self.layout.state_file.with_suffix(".tmp")
        camera_procs.write_private(tmp, json.dumps(state, indent=2) + "\n")
        tmp.replace(self.layout.state_file)
