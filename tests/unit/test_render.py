"""Templates render as expected for several camera configurations."""

import re

from camgate.model import parse_gateway
from camgate.render import render_camera_unit, render_nginx_site, systemd_arg


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
    for line in ("Restart=always", "RestartSec=1", "TimeoutStopSec=5", "StartLimitIntervalSec=0", "User=camgate"):
        assert line in unit.splitlines()
    assert "RuntimeDirectory=camgate/hls/yard" in unit


def test_percent_signs_are_escaped_for_systemd():
    g = gw(name="100% yard")
    unit = render_camera_unit(g, g.cameras[0], 5)
    assert "100%% yard" in unit
    assert "seg-%%d.m4s" in exec_start(unit)
    assert systemd_arg("a b$") == '"a b$$"'


def test_settings_reach_the_command_line():
    g = gw(hls_time=1, hls_list_size=10, audio="none", transport="udp")
    line = exec_start(render_camera_unit(g, g.cameras[0], 4))
    assert "-hls_time 1 -hls_list_size 10" in line
    assert "-an" in line and "-rtsp_transport udp" in line and "-stimeout" in line


def test_nginx_site_serves_streams_only_through_signed_paths():
    site = render_nginx_site(gw(), (1, 22, 1))
    assert "server_tokens off;" in site and "autoindex off;" in site
    assert 'secure_link_md5 "$expires/$camera $camgate_link_secret";' in site
    assert "include /etc/nginx/camgate/link-secret.conf;" in site
    assert "alias /run/camgate/hls/$camera/$file;" in site
    assert "application/vnd.apple.mpegurl m3u8;" in site and "video/mp2t ts;" in site
    assert 'Access-Control-Allow-Origin "*"' in site
    # The only regex locations: signed live paths (the multivariant playlist, then the media files),
    # recording paths, and the per-camera API.
    locations = re.findall(r'location ~ "([^"]+)"', site)
    assert [p.split("(")[0] for p in locations] == ["^/s/", "^/s/", "^/s/", "^/r/", "^/r/", "^/api/cameras/", "^/api/recordings/", "^/api/recordings/"]
    assert "alias /run/camgate/hls/$camera.sub/$file;" in site  # the sub stream: /s/.../<camera>/sub/<file>
    assert locations[0].endswith("/index\\.m3u8$")
    assert 'secure_link_md5 "$expires/$camera/rec $camgate_link_secret";' in site
    assert all(p.endswith("$") for p in locations)
    assert "location /hls/ {\n        return 403;" in site


def test_api_requires_basic_auth_and_is_rate_limited():
    site = render_nginx_site(gw(), (1, 22, 1))
    api = site[site.index("location = /api/cameras"):]
    assert "auth_basic_user_file /etc/nginx/camgate/app-users.htpasswd;" in api
    assert "limit_req zone=camgate_api" in api and "js_content camgate.manifest;" in api
    assert "js_import camgate from /etc/nginx/camgate/camgate.js;" in site


def test_encrypted_camera_gets_a_key_before_ffmpeg_and_rekeys():
    g = gw(encrypt=True)
    unit = render_camera_unit(g, g.cameras[0], 5)
    assert "ExecStartPre=/usr/local/lib/camgate/camgate-hls-key /run/camgate/hls/yard" in unit
    line = exec_start(unit)
    assert "-hls_key_info_file /run/camgate/hls/yard/keyinfo.txt" in line and "periodic_rekey" in line
    # ffmpeg cannot encrypt fMP4: an encrypted camera's segments stay MPEG-TS
    assert "-hls_segment_type mpegts" in line and "seg-%%d.ts" in line
    plain = render_camera_unit(gw(), gw().cameras[0], 5)
    assert "ExecStartPre" not in plain and "keyinfo" not in plain


def test_live_segments_are_fmp4_with_an_init_section_and_hevc_tagged_hvc1():
    line = exec_start(render_camera_unit(gw(), gw().cameras[0], 5))
    assert "-hls_segment_type fmp4 -hls_start_number_source epoch -hls_fmp4_init_filename init.mp4" in line
    assert "-hls_segment_filename /run/camgate/hls/yard/seg-%%d.m4s" in line
    assert "-c:v copy -tag:v hvc1" in line


def test_playlists_are_gzipped_and_fmp4_files_served_under_the_signed_path():
    site = render_nginx_site(gw(), (1, 22, 1))
    live = site[site.index('location ~ "^/s/'):]
    live = live[: live.index("location /r/")]
    assert "m3u8|m4s|mp4|ts|key" in live and "video/mp4 m4s mp4;" in live
    assert "gzip on;" in live and "gzip_types application/vnd.apple.mpegurl;" in live


def test_camera_unit_is_hardened():
    unit = render_camera_unit(gw(), gw().cameras[0], 5).splitlines()
    for line in ("ProtectSystem=strict", "ProtectProc=invisible", "NoNewPrivileges=yes", "CapabilityBoundingSet=",
                 "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes", "PrivateDevices=yes"):
        assert line in unit


def test_launcher_masks_credentials():
    from roles.cameras import launcher_script

    script = launcher_script()
    assert script.startswith("#!/bin/bash")
    assert "sed -u -E" in script and "***@" in script
