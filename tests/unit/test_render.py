"""Templates render as expected for several camera configurations."""

import re

from camgate.model import parse_gateway
from camgate.render import render, render_camera_unit, render_nginx_site, systemd_arg


def gw(**cam):
    raw = {"id": "yard", "url": "rtsp://10.0.0.7/ch1", **cam}
    return parse_gateway("gw", {"domain": "cams.example.com", "acme_email": "ops@example.com", "cameras": [raw]})


def exec_start(unit: str) -> str:
    return next(line for line in unit.splitlines() if line.startswith("ExecStart="))


def test_unit_carries_no_credentials_and_loads_them_from_a_root_only_file():
    g = gw(username="admin", password_ref="secret:yard")
    unit = render_camera_unit(g, g.cameras[0], 5)
    assert "admin" not in unit and "secret:" not in unit
    assert "LoadCredential=rtsp-url:/etc/camgate/credentials/yard.url" in unit
    assert "@RTSP_URL@" in exec_start(unit)


def test_unit_restarts_forever_and_stops_fast():
    g = gw()
    unit = render_camera_unit(g, g.cameras[0], 5)
    for line in ("Restart=always", "RestartSec=2", "TimeoutStopSec=5", "StartLimitIntervalSec=0", "User=camgate"):
        assert line in unit.splitlines()
    assert "RuntimeDirectory=camgate/hls/yard" in unit


def test_percent_signs_are_escaped_for_systemd():
    g = gw(name="100% yard")
    unit = render_camera_unit(g, g.cameras[0], 5)
    assert "100%% yard" in unit
    assert "seg-%%d.ts" in exec_start(unit)
    assert systemd_arg("a b$") == '"a b$$"'


def test_settings_reach_the_command_line():
    g = gw(hls_time=1, hls_list_size=10, audio="none", transport="udp")
    line = exec_start(render_camera_unit(g, g.cameras[0], 4))
    assert "-hls_time 1 -hls_list_size 10" in line
    assert "-an" in line and "-rtsp_transport udp" in line and "-stimeout" in line


def test_nginx_site_serves_only_playlists_and_segments_with_headers():
    site = render_nginx_site(gw(), (1, 22, 1))
    assert "server_tokens off;" in site and "autoindex off;" in site
    assert "default_type application/vnd.apple.mpegurl;" in site
    assert "default_type video/mp2t;" in site
    assert 'add_header Cache-Control "no-cache" always;' in site
    assert 'Access-Control-Allow-Origin "*"' in site
    assert "alias /run/camgate/hls/$camera/$file;" in site
    locations = re.findall(r'location ~ "([^"]+)"', site)
    assert all(pattern.startswith("^/hls/") and pattern.endswith("$") for pattern in locations)


def test_launcher_masks_credentials():
    script = render("bin/camgate-camera-run.j2", placeholder="@RTSP_URL@")
    assert script.startswith("#!/bin/bash")
    assert "sed -u -E" in script and "***@" in script
