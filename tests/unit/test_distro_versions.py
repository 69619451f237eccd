"""What a first deploy (nothing installed yet) renders on each supported distribution, and that the
installed packages' versions win afterwards.

Debian 12: ffmpeg 5.1, nginx 1.22. Ubuntu 22.04: ffmpeg 4.4 (knows only -stimeout), nginx 1.18.
Ubuntu 24.04: ffmpeg 6.1, nginx 1.24 (both nginx versions predate `http2 on;`, 1.25.1).
"""

import re

import pytest

from camgate.ffmpeg import ffmpeg_major
from camgate.model import parse_gateway
from camgate.render import render_camera_unit, render_nginx_site
from camgate.tls import nginx_version

# (ID, VERSION_ID) as pyinfra's LinuxDistribution fact reads them from /etc/os-release.
DISTROS = {
    "debian 12": (("debian", "12"), 5, (1, 22, 1)),
    "ubuntu 22.04": (("ubuntu", "22.04"), 4, (1, 18, 0)),
    "ubuntu 24.04": (("ubuntu", "24.04"), 6, (1, 24, 0)),
}


def gateway():
    return parse_gateway(
        "gw1.example.com",
        {
            "domain": "cams.example.com",
            "acme_email": "ops@example.com",
            "cameras": [
                {"id": "door", "url": "rtsp://10.0.0.5/ch1", "rtsp_timeout": 7},
                {"id": "yard", "url": "rtsp://10.0.0.6/ch1", "record": True, "encrypt": True},
            ],
        },
    )


def exec_start(unit: str) -> str:
    return next(line for line in unit.splitlines() if line.startswith("ExecStart="))


@pytest.mark.parametrize("distro", DISTROS)
def test_first_deploy_picks_the_distributions_versions(distro):
    (distro_id, release), major, version = DISTROS[distro]
    assert ffmpeg_major(None, distro_id, release) == major
    assert nginx_version(None, distro_id, release) == version


@pytest.mark.parametrize("distro", DISTROS)
def test_camera_units_use_the_socket_timeout_option_of_the_distributions_ffmpeg(distro):
    (distro_id, release), _major, _version = DISTROS[distro]
    gw = gateway()
    for cam in gw.cameras:
        line = exec_start(render_camera_unit(gw, cam, ffmpeg_major(None, distro_id, release)))
        seconds = cam.rtsp_timeout * 1_000_000
        if distro == "ubuntu 22.04":  # ffmpeg 4.4: -timeout would mean "listen", -stimeout is the socket timeout
            assert f" -stimeout {seconds} " in line and " -timeout " not in line
        else:  # ffmpeg >= 5 rejects -stimeout
            assert f" -timeout {seconds} " in line and "-stimeout" not in line
        # The option comes before the input it applies to.
        assert line.index("timeout") < line.index("-i @RTSP_URL@")


@pytest.mark.parametrize("distro", DISTROS)
def test_nginx_site_uses_the_http2_syntax_of_the_distributions_nginx(distro):
    (distro_id, release), _major, _version = DISTROS[distro]
    site = render_nginx_site(gateway(), nginx_version(None, distro_id, release))
    # nginx < 1.25.1 (all three): http2 is a parameter of listen; `http2 on;` would be an unknown directive.
    assert "listen 443 ssl http2 default_server;" in site
    assert "listen [::]:443 ssl http2 default_server;" in site
    assert not re.search(r"^\s*http2 on;", site, re.MULTILINE)
    assert "listen 80 default_server;" in site


@pytest.mark.parametrize(
    ("package", "installed", "distro", "expected"),
    [
        ("ffmpeg", "7:5.1.6-0+deb12u1", "debian 12", 5),
        ("ffmpeg", "7:4.4.2-0ubuntu0.22.04.1", "ubuntu 22.04", 4),
        ("ffmpeg", "7:6.1.1-3ubuntu5", "ubuntu 24.04", 6),
        ("nginx", "1.22.1-9+deb12u2", "debian 12", (1, 22, 1)),
        ("nginx", "1.18.0-6ubuntu14.6", "ubuntu 22.04", (1, 18, 0)),
        ("nginx", "1.24.0-2ubuntu7.3", "ubuntu 24.04", (1, 24, 0)),
        # nginx.org's packages on Ubuntu 22.04 (where the distribution has no njs module): a later
        # deploy reads the installed version and switches to `http2 on;`.
        ("nginx", "1.28.0-1~jammy", "ubuntu 22.04", (1, 28, 0)),
    ],
)
def test_the_installed_version_wins_over_the_distributions(package, installed, distro, expected):
    (distro_id, release), _major, _version = DISTROS[distro]
    pick = ffmpeg_major if package == "ffmpeg" else nginx_version
    assert pick(installed, distro_id, release) == expected


def test_a_newer_nginx_gets_the_http2_directive():
    site = render_nginx_site(gateway(), nginx_version("1.28.0-1~jammy", "ubuntu", "22.04"))
    assert re.search(r"^\s*http2 on;", site, re.MULTILINE) and "ssl http2" not in site
