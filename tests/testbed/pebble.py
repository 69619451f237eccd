"""A real ACME server for the testbed: Debian's pebble plus pebble-challtestsrv as its DNS.

Both run on this machine and listen only on the host side of the testbed's veth
(10.231.<N>.1). challtestsrv answers every A query with the target's address and nothing
else (no AAAA, no challenge listeners), so pebble validates HTTP-01 by really fetching
http://<domain>/.well-known/acme-challenge/<token> from the target's port 80.
PEBBLE_VA_ALWAYS_VALID is never set.

    acme = start(layout)   # {"server", "ca_bundle", "roots_url", "dns"}
    fetch_root(acme)       # PEM of pebble's current root (a new one at each start)
    stop(layout)           # idempotent; also finds processes of a crashed run by their argv
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import urllib.request
from pathlib import Path
from typing import Callable

from .cameras import write_private
from .errors import TestbedError
from .layout import Layout
from .proc import cmdline, find_pids, reap, run, terminate, wait_until

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"
ACME_PORT = 14000
MANAGEMENT_PORT = 15000
DNS_PORT = 8053
CHALLTESTSRV_MANAGEMENT_PORT = 8055
READY_TIMEOUT = 20.0
CERT_DAYS = 30
# Never inherited: skipping validation, random nonce rejection or proxies would make the test lie
# or send traffic somewhere other than the testbed.
DROPPED_ENV_PREFIXES = ("PEBBLE_",)
DROPPED_ENV = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


# pure logic (unit-tested) ---------------------------------------------------------------------
def pebble_config(layout: Layout) -> dict:
    """pebble's config: API and management on the host address, HTTP-01 checked on port 80."""
    acme = layout.acme_dir
    return {
        "pebble": {
            "listenAddress": f"{layout.host_address}:{ACME_PORT}",
            "managementListenAddress": f"{layout.host_address}:{MANAGEMENT_PORT}",
            "certificate": str(acme / "server.pem"),
            "privateKey": str(acme / "server.key"),
            "httpPort": 80,
            "tlsPort": 443,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }


def dns_address(layout: Layout) -> str:
    return f"{layout.host_address}:{DNS_PORT}"


def pebble_argv(layout: Layout) -> list[str]:
    return [PEBBLE, "-config", str(layout.acme_dir / "pebble-config.json"), "-dnsserver", dns_address(layout)]


def challtestsrv_argv(layout: Layout) -> list[str]:
    """DNS only: every A query answers the target, AAAA nothing; the challenge listeners are off."""
    return [
        CHALLTESTSRV,
        "-dns01", dns_address(layout),
        "-management", f"{layout.host_address}:{CHALLTESTSRV_MANAGEMENT_PORT}",
        "-http01", "", "-https01", "", "-tlsalpn01", "",
        "-defaultIPv4", layout.target_address, "-defaultIPv6", "",
    ]  # fmt: skip


def pebble_env(base: dict[str, str]) -> dict[str, str]:
    """`base` without PEBBLE_* and proxy variables, plus: no validation sleep, no bad nonces."""
    env = {
        k: v
        for k, v in base.items()
        if not k.startswith(DROPPED_ENV_PREFIXES) and k.lower() not in DROPPED_ENV
    }
    env.update(PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
    return env


def ca_argv(acme_dir: Path, name: str) -> list[str]:
    """openssl: a self-signed P-256 CA (ca.pem, ca.key) that signs only pebble's API certificate."""
    return [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(acme_dir / "ca.key"), "-out", str(acme_dir / "ca.pem"), "-days", str(CERT_DAYS),
        "-subj", f"/CN={name} ACME API CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ]  # fmt: skip


def server_argv(acme_dir: Path, host_address: str) -> list[str]:
    """openssl: pebble's API certificate (server.pem, server.key) for the host address, signed by ca.pem."""
    return [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(acme_dir / "server.key"), "-out", str(acme_dir / "server.pem"), "-days", str(CERT_DAYS),
        "-CA", str(acme_dir / "ca.pem"), "-CAkey", str(acme_dir / "ca.key"),
        "-subj", f"/CN={host_address}",
        "-addext", f"subjectAltName=IP:{host_address},IP:127.0.0.1,DNS:localhost",
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=critical,digitalSignature",
        "-addext", "extendedKeyUsage=serverAuth",
    ]  # fmt: skip


def acme_state(layout: Layout) -> dict:
    """What state.json records under "acme" (and what certbot on the target needs)."""
    host = layout.host_address
    return {
        "server": f"https://{host}:{ACME_PORT}/dir",
        "ca_bundle": str(layout.acme_dir / "ca.pem"),
        "roots_url": f"https://{host}:{MANAGEMENT_PORT}/roots/0",
        "dns": dns_address(layout),
    }


# processes -----------------------------------------------------------------------------------
def start(layout: Layout) -> dict:
    """Start challtestsrv and pebble (stopping strays first); return acme_state once /dir answers.

    Raises TestbedError quoting the log when either process exits or pebble does not answer
    within READY_TIMEOUT seconds.
    """
    stop(layout)
    make_certificates(layout)
    write_private(layout.acme_dir / "pebble-config.json", json.dumps(pebble_config(layout), indent=2) + "\n")
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    dns = spawn(challtestsrv_argv(layout), layout.challtestsrv_log, layout.pid_file("challtestsrv"), env)
    wait_ready("pebble-challtestsrv", dns, layout.challtestsrv_log, lambda: tcp_answers(layout.host_address, DNS_PORT))
    state = acme_state(layout)
    api = spawn(pebble_argv(layout), layout.pebble_log, layout.pid_file("pebble"), pebble_env(env))
    wait_ready("pebble", api, layout.pebble_log, lambda: https_answers(state["server"], state["ca_bundle"]))
    return state


def stop(layout: Layout) -> None:
    """Terminate this testbed's pebble and challtestsrv; remove PID files and the acme folder."""
    for pid in acme_processes(layout):
        terminate(pid, grace=5.0)
        reap(pid)
    for what in ("pebble", "challtestsrv"):
        layout.pid_file(what).unlink(missing_ok=True)
    shutil.rmtree(layout.acme_dir, ignore_errors=True)


def is_running(layout: Layout) -> bool:
    """True when both processes of this testbed run (found by argv, not by PID file)."""
    return set(acme_processes(layout).values()) == {PEBBLE, CHALLTESTSRV}


def acme_processes(layout: Layout) -> dict[int, str]:
    """PID -> binary of every pebble/challtestsrv bound to this testbed's DNS address (argv marker)."""
    marker = dns_address(layout)

    def mine(argv: list[str]) -> bool:
        return argv[0] in (PEBBLE, CHALLTESTSRV) and marker in argv

    return {pid: (cmdline(pid) or [""])[0] for pid in find_pids(mine)}


def fetch_root(acme: dict, timeout: float = 10.0) -> str:
    """PEM of pebble's current root CA (issued certificates chain to it), from the management API."""
    with _opener(acme["ca_bundle"]).open(acme["roots_url"], timeout=timeout) as response:
        return response.read().decode()


# helpers ---------------------------------------------------------------------------------------
def make_certificates(layout: Layout) -> None:
    acme_dir = layout.acme_dir
    shutil.rmtree(acme_dir, ignore_errors=True)
    acme_dir.mkdir(mode=0o700, parents=True)
    run(ca_argv(acme_dir, layout.name), what="making the ACME API CA")
    run(server_argv(acme_dir, layout.host_address), what="making the ACME API certificate")
    for key in ("ca.key", "server.key"):
        (acme_dir / key).chmod(0o600)


def spawn(argv: list[str], log_path: Path, pid_file: Path, env: dict[str, str]) -> subprocess.Popen:
    if not Path(argv[0]).exists():
        raise TestbedError(f"{argv[0]} is missing: apt-get install pebble")
    with open(log_path, "w") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, close_fds=True,
        )  # fmt: skip
    pid_file.write_text(f"{proc.pid}\n")
    return proc


def wait_ready(what: str, proc: subprocess.Popen, log_path: Path, ready: Callable[[], bool]) -> None:
    exited = False

    def check() -> bool:
        nonlocal exited
        exited = proc.poll() is not None
        return exited or ready()

    if wait_until(check, timeout=READY_TIMEOUT, interval=0.1) and not exited:
        return
    tail = log_path.read_text(errors="replace")[-1500:]
    if exited:
        raise TestbedError(f"{what} exited with {proc.returncode} at start ({log_path}): {tail}")
    raise TestbedError(f"{what} did not answer within {READY_TIMEOUT:.0f}s ({log_path}): {tail}")


def tcp_answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def https_answers(url: str, ca_bundle: str) -> bool:
    try:
        with _opener(ca_bundle).open(url, timeout=1.0) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):  # URLError and SSL errors are OSErrors
        return False


def _opener(ca_bundle: str) -> urllib.request.OpenerDirector:
    """HTTPS verified against the API CA, and never through a proxy (only testbed addresses)."""
    context = ssl.create_default_context(cafile=ca_bundle)
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
