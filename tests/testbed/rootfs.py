"""The Debian root filesystem of a suite (bookworm by default, or trixie): built once with
mmdebstrap, cached, unpacked once into a base tree.

Layout under ``${CAMGATE_CACHE:-~/.cache/camgate}/rootfs/``, one set per suite:

- ``<suite>-<key>.tar.zst``  the compressed mmdebstrap tarball
- ``<suite>-<key>/``         the unpacked base tree, used read-only as overlayfs lowerdir
- ``.lock``                  serialises builds between testbeds brought up at the same time

``<key>`` is a hash of the suite, the variant and the package list, so changing the list rebuilds.
The host (Debian 12) builds every suite: its debian-archive-keyring holds trixie's keys too.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import TestbedError
from .proc import log, run

DEFAULT_SUITE = "bookworm"
# The Debian releases the testbed can boot (the host's systemd-nspawn 252 boots both on cgroup2).
SUITES: tuple[str, ...] = ("bookworm", "trixie")
VARIANT = "minbase"
# A bare server: what a minimal cloud/VPS image has and what pyinfra/testinfra need to manage it.
# No nginx or ffmpeg: the project's deploy installs them. The same names exist in bookworm and trixie
# (trixie still has systemd-sysv and dbus as packages; systemd-resolved, split out since bookworm, is
# left out on both: the container gets the host's resolv.conf, as a VPS gets its provider's). No curl:
# the deploy installs it (camgate verify needs it), and a bare host without it proves that.
PACKAGES: tuple[str, ...] = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "ca-certificates",
    "iproute2",
    "procps",
    "sudo",
    "apt-utils",
)
BUILD_TIMEOUT = 900


def camgate_cache() -> Path:
    """Where the testbed keeps what it builds once: ``$CAMGATE_CACHE`` or ``~/.cache/camgate``."""
    base = os.environ.get("CAMGATE_CACHE") or str(Path.home() / ".cache" / "camgate")
    return Path(base).expanduser().resolve()


def cache_root() -> Path:
    """Where built root filesystems live (``<camgate_cache>/rootfs``)."""
    return camgate_cache() / "rootfs"


def check_suite(suite: str) -> str:
    if suite not in SUITES:
        raise TestbedError(f"unknown suite {suite!r}; the testbed boots {', '.join(SUITES)}")
    return suite


def cache_key(suite: str = DEFAULT_SUITE, packages: tuple[str, ...] = PACKAGES) -> str:
    """A short stable hash of what goes into the image."""
    text = "\n".join([suite, VARIANT, *sorted(packages)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def tarball_path(root: Path, key: str, suite: str = DEFAULT_SUITE) -> Path:
    return root / f"{suite}-{key}.tar.zst"


def base_tree_path(root: Path, key: str, suite: str = DEFAULT_SUITE) -> Path:
    return root / f"{suite}-{key}"


def ensure_base_tree(suite: str = DEFAULT_SUITE) -> tuple[Path, bool]:
    """Return (path of the unpacked base tree of `suite`, True if it came from the cache without building).

    Builds the tarball when missing and unpacks it when the tree is missing, under a file lock.
    """
    check_suite(suite)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    key = cache_key(suite)
    tree = base_tree_path(root, key, suite)
    if (tree / "etc" / "os-release").exists():
        return tree, True
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (tree / "etc" / "os-release").exists():  # another testbed built it while we waited
            return tree, True
        tarball = tarball_path(root, key, suite)
        hit = tarball.exists()
        if not hit:
            build_tarball(tarball, suite)
        unpack(tarball, tree)
        return tree, hit


def build_tarball(tarball: Path, suite: str = DEFAULT_SUITE) -> None:
    """Run mmdebstrap for `suite` into a temporary tar, compress it with zstd, and move it into place."""
    log_file = tarball.with_suffix("").with_suffix(".build.log")
    log(f"building {suite} rootfs with mmdebstrap (log: {log_file}) ...")
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix=".build-") as tmp:
        raw = Path(tmp) / "rootfs.tar"
        # No MIRROR argument: mmdebstrap uses deb.debian.org plus the updates and security suites.
        # stdin is /dev/null (run() does that), so it never reads a sources.list from stdin.
        run(
            [
                "mmdebstrap", f"--variant={VARIANT}", "--format=tar",
                f"--include={','.join(PACKAGES)}", suite, raw,
            ],
            what="building the rootfs with mmdebstrap",
            log_file=log_file,
            timeout=BUILD_TIMEOUT,
        )
        compressed = Path(tmp) / "rootfs.tar.zst"
        run(
            ["zstd", "-q", "-T0", "-6", raw, "-o", compressed],
            what="compressing the rootfs tarball", log_file=log_file, timeout=BUILD_TIMEOUT,
        )
        os.replace(compressed, tarball)


def unpack(tarball: Path, tree: Path) -> None:
    """Unpack the tarball into a temp dir beside `tree`, then rename it into place (atomic)."""
    tmp = Path(tempfile.mkdtemp(dir=tree.parent, prefix=f".{tree.name}-unpack-"))
    try:
        decompress = subprocess.Popen(
            ["zstd", "-q", "-d", "-c", str(tarball)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        assert decompress.stdout is not None
        untar = subprocess.run(
            ["tar", "-x", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", str(tmp)],
            stdin=decompress.stdout, capture_output=True, text=True,
        )
        decompress.stdout.close()
        if decompress.wait() != 0 or untar.returncode != 0:
            raise TestbedError(
                f"unpacking {tarball} failed (zstd exit {decompress.returncode}, tar exit "
                f"{untar.returncode}): {untar.stderr.strip()[-1000:]}; delete the tarball to rebuild it"
            )
        tmp.chmod(0o755)
        os.rename(tmp, tree)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
