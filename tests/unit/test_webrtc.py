"""WebRTC as the operator side decides it: inventory rules, the camera's RTP output for camgate-webrtc,
the service's settings, coturn's config, the firewall's ports and what nginx and the manifest get."""

import re

import pytest

from camgate import webrtc
from camgate.ffmpeg import camera_args
from camgate.firewall import ruleset_for, render_ruleset
from camgate.gateway.health import judge_webrtc
from camgate.manifest import catalog
from camgate.model import InventoryError, parse_gateway
from camgate.render import render_camera_unit, render_nginx_site, render_turnserver_conf

HLS = "/run/camgate/hls/front"


def gateway(*cameras: dict, **fields):
    raw = [{"url": f"rtsp://10.0.0.{n + 10}/live", **cam} for n, cam in enumerate(cameras)]
    return parse_gateway("gw", {"domain": "cams.example.com", "acme_email": "ops@example.com", "cameras": raw, **fields})


def problems_of(*cameras: dict, **fields) -> str:
    with pytest.raises(InventoryError) as caught:
        gateway(*cameras, **fields)
    return str(caught.value)


def tee_of(args: list[str], index: int = -1) -> str:
    """The spec of the index-th `-f tee` output (the last one by default)."""
    specs = [args[i + 2] for i, arg in enumerate(args) if arg == "-f" and args[i + 1] == "tee"]
    return specs[index]


def test_webrtc_is_off_by_default_and_nothing_of_it_is_deployed():
    g = gateway({"id": "front"})
    assert g.cameras[0].webrtc == "off" and g.webrtc_cameras == ()
    assert "rtp://" not in " ".join(camera_args(g.cameras[0], HLS, 5))
    assert ruleset_for(g, 22, None).udp_ports == ()
    assert "/api/webrtc" not in render_nginx_site(g, (1, 22, 1))
    assert catalog(g)["ice_urls"] == []


def test_webrtc_from_the_sub_stream_needs_a_sub_url():
    text = problems_of({"id": "front", "webrtc": "sub"})
    assert "camera 'front': field 'webrtc'" in text and "fix: set sub_url" in text


def test_g711_pass_through_contradicting_aac_is_refused_with_the_fix():
    text = problems_of({"id": "front", "audio": "copy", "webrtc": "main", "webrtc_audio": "pcma"})
    assert "field 'webrtc_audio'" in text and "fix: webrtc_audio='opus'" in text


@pytest.mark.parametrize("value", ["40000", "40000-39999", "80-90", "40000-40005", "4e4-5e4", "40000-70000"])
def test_bad_port_ranges_are_refused(value):
    assert "field 'webrtc_ports'" in problems_of({"id": "front"}, webrtc_ports=value)


def test_overlapping_ports_are_refused():
    text = problems_of({"id": "front"}, turn_relay_ports="40500-41000")
    assert "field 'turn_relay_ports': overlaps 'webrtc_ports'" in text
    assert "field 'turn_port': overlaps 'https_port'" in problems_of({"id": "front"}, turn_port=443)


def test_rtp_ports_are_distinct_and_adding_a_camera_moves_no_other():
    cams = [{"id": f"cam{n}", "webrtc": "main"} for n in range(64)]
    before = webrtc.rtp_ports(gateway(*cams))
    assert len(set(before.values())) == 64
    assert all(webrtc.RTP_PORT_BASE <= p < webrtc.RTP_PORT_BASE + 4 * webrtc.RTP_PORT_SLOTS and p % 4 == 0 for p in before.values())
    after = webrtc.rtp_ports(gateway(*cams, *({"id": f"new{n}", "webrtc": "main"} for n in range(64))))
    assert {cam: after[cam] for cam in before} == before


def test_a_taken_slot_goes_to_the_next_free_one_in_inventory_order():
    # Find two ids sharing a slot: the second declared gets the next port block.
    import zlib

    seen: dict[int, str] = {}
    for n in range(100_000):
        slot = zlib.crc32(f"c{n}".encode()) % webrtc.RTP_PORT_SLOTS
        if slot in seen:
            first, second = seen[slot], f"c{n}"
            break
        seen[slot] = f"c{n}"
    ports = webrtc.rtp_ports(gateway({"id": first, "webrtc": "main"}, {"id": second, "webrtc": "main"}))
    assert ports[second] == ports[first] + 4


def test_copied_camera_sends_video_and_its_g711_untouched_to_the_webrtc_service_besides_hls():
    g = gateway({"id": "front", "audio": "aac", "webrtc": "main", "webrtc_audio": "pcmu"})
    port = webrtc.rtp_ports(g)["front"]
    args = camera_args(g.cameras[0], HLS, 5, webrtc_port=port)
    tee = tee_of(args)
    assert f"[f=rtp:payload_type=96:select=v:bsfs/v=dump_extra:onfail=ignore]rtp://127.0.0.1:{port}?pkt_size=1200" in tee
    assert f"[f=rtp:payload_type=0:select=a:onfail=ignore]rtp://127.0.0.1:{port + 2}?pkt_size=1200" in tee
    webrtc_output = args[args.index("-f", args.index(f"{HLS}/stream.m3u8")) - 9:]
    assert webrtc_output[:9] == ["-map", "0:v:0", "-map", "0:a:0?", "-c:v", "copy", "-c:a", "copy", "-copyinkf:a"]
    # HLS still gets its AAC.
    assert args[args.index("-c:a") + 1] == "aac"


def test_opus_is_the_default_and_audio_none_drops_audio_on_webrtc_too():
    opus = camera_args(gateway({"id": "front", "audio": "copy", "webrtc": "main"}).cameras[0], HLS, 5, webrtc_port=30000)
    assert "libopus" in opus and "payload_type=111" in tee_of(opus)
    silent = camera_args(gateway({"id": "front", "audio": "none", "webrtc": "main"}).cameras[0], HLS, 5, webrtc_port=30000)
    assert "select=a" not in tee_of(silent) and "libopus" not in silent
    assert silent.count("0:a:0?") == 0


def test_a_transcoded_camera_is_encoded_once_for_hls_and_webrtc():
    g = gateway({"id": "front", "video": "transcode", "webrtc": "main"})
    args = camera_args(g.cameras[0], HLS, 5, webrtc_port=30000)
    assert args.count("libx264") == 1
    tee = tee_of(args, 0)
    assert tee.startswith("[f=hls:") and "rtp://127.0.0.1:30000" in tee and "select=a" not in tee
    assert len([a for a in args if a == "tee"]) == 1


def test_only_the_stream_webrtc_relays_sends_rtp():
    g = gateway({"id": "front", "sub_url": "rtsp://10.0.0.10/sub", "webrtc": "sub"})
    main, sub = g.cameras[0].streams
    assert "rtp://" not in render_camera_unit(g, g.cameras[0], 5, main)
    assert f"rtp://127.0.0.1:{webrtc.rtp_ports(g)['front']}" in render_camera_unit(g, g.cameras[0], 5, sub)


def test_the_webrtc_service_gets_each_cameras_ports_and_audio_codec_and_the_ice_ports():
    g = gateway({"id": "front", "name": 'Front "door"', "webrtc": "main", "audio": "aac", "webrtc_audio": "pcma"},
                {"id": "yard", "webrtc": "main", "audio": "none"}, {"id": "gate"})  # fmt: skip
    config = webrtc.engine_config(g)
    ports = webrtc.rtp_ports(g)
    assert config["cameras"] == {
        "front": {"video_port": ports["front"], "audio": {"port": ports["front"] + 2, "codec": "pcma"}},
        "yard": {"video_port": ports["yard"], "audio": None},
    }
    assert config["ice_ports"] == [40000, 40999] and config["listen"] == ["127.0.0.1", 8086]
    assert config["ttl"] == g.url_ttl and "turns:cams.example.com:5349?transport=tcp" in config["ice_urls"]


def test_coturn_relays_to_the_gateway_only_with_time_limited_credentials():
    g = gateway({"id": "front", "webrtc": "main"})
    conf = render_turnserver_conf(g, ["10.1.2.3"])
    lines = conf.splitlines()
    for line in ("use-auth-secret", "no-tcp-relay", "denied-peer-ip=0.0.0.0-255.255.255.255", "allowed-peer-ip=10.1.2.3",
                 "min-port=49152", "max-port=49999", "tls-listening-port=5349", "no-cli", "realm=cams.example.com"):
        assert line in lines, line
    assert "static-auth-secret" not in conf  # the secret is never in a file coturn's group can read
    plain = render_turnserver_conf(gateway({"id": "front", "webrtc": "main"}, tls="off"), ["10.1.2.3"])
    assert "tls-listening-port" not in plain and "no-tls" in plain.splitlines()


def test_the_firewall_opens_exactly_the_media_and_turn_ports():
    rules = ruleset_for(gateway({"id": "front", "webrtc": "main"}), 22, None)
    assert rules.udp_ports == ("40000-40999", "3478", "49152-49999")
    assert rules.tcp_ports == ("3478", "5349")
    text = render_ruleset(rules)
    assert "udp dport { 40000-40999, 3478, 49152-49999 } accept" in text
    assert "tcp dport { 3478, 5349 } accept" in text
    assert ruleset_for(gateway({"id": "front", "webrtc": "main"}, tls="off"), 22, None).tcp_ports == ("3478",)


def test_signalling_and_manifest_offer_webrtc_only_for_the_users_webrtc_cameras():
    users = [{"name": "alice", "password_ref": "secret:a", "cameras": ["*"]},
             {"name": "bob", "password_ref": "secret:b", "cameras": ["gate"]}]  # fmt: skip
    g = gateway({"id": "front", "webrtc": "main"}, {"id": "gate"}, app_users=users)
    config = webrtc.engine_config(g)
    assert config["users"] == {"alice": ["front"], "bob": []}
    assert config["listen"] == ["127.0.0.1", 8086]
    data = catalog(g)
    assert data["cameras"]["front"]["webrtc"] and not data["cameras"]["gate"]["webrtc"]
    assert data["ice_urls"] == [
        "stun:cams.example.com:3478", "turn:cams.example.com:3478?transport=udp",
        "turn:cams.example.com:3478?transport=tcp", "turns:cams.example.com:5349?transport=tcp",
    ]  # fmt: skip
    site = render_nginx_site(g, (1, 22, 1))
    assert "proxy_pass http://127.0.0.1:8086;" in site
    # The password stays in nginx; a Bearer token (WHEP) goes on to the service.
    assert "proxy_set_header Authorization $camgate_webrtc_bearer;" in site and '"~*^bearer " $http_authorization;' in site
    assert "auth_basic $camgate_webrtc_realm;" in site
    assert "include /etc/nginx/camgate/turn-secret.conf;" in site


SETTINGS = {"stream": "main", "status_url": "http://127.0.0.1:8086/status", "media_timeout": 10}
UP = {"up": True, "attributes": {"CODECS": "avc1.64001f,mp4a.40.2"}}


@pytest.mark.parametrize(("relayed", "signalling", "status", "reason"), [
    ({"up": False}, {"media_age_ms": {"front": 100}}, "down", "its main stream is not up"),
    ({"up": True, "attributes": {"CODECS": "hvc1.1.6.L93.B0"}}, {"media_age_ms": {"front": 100}}, "unplayable", "WebRTC carries H.264"),
    (UP, None, "down", "not answering"),
    (UP, {"media_age_ms": None}, "down", "not answering"),
    (UP, {"media_age_ms": {"front": 25_000}}, "down", "no media reached the WebRTC service for 25 s"),
    (UP, {"media_age_ms": {"front": 120}, "cameras": {"front": 3}}, "up", None),
])  # fmt: skip
def test_webrtc_health_is_up_only_when_a_viewer_would_see_the_camera(relayed, signalling, status, reason):
    found = judge_webrtc("front", SETTINGS, relayed, signalling)
    assert found["status"] == status and found["up"] == (status == "up")
    assert (found["reason"] is None) if reason is None else (reason in found["reason"])
    if status == "up":
        assert found["viewers"] == 3
