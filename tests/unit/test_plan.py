"""camgate plan: bandwidth and the days a disk holds, from probed or estimated bitrates."""

import json

from click.testing import CliRunner

from camgate.cli import main
from camgate.model import parse_gateway
from camgate.plan import plan_site, probe_file, probed

GIB = 1024**3


def gateway(**camera):
    cams = [
        {"id": "a", "url": "rtsp://10.0.0.2/x", "bitrate_kbps": 4000, "record": True, "retention": "7d", **camera},
        {"id": "b", "url": "rtsp://10.0.0.3/x", "bitrate_kbps": 1000},
    ]
    return parse_gateway("gw1", {"domain": "c.example.com", "acme_email": "a@example.com", "cameras": cams,
                                 "recordings_max_size": "500G"})  # fmt: skip


def test_bandwidth_in_and_out():
    site = plan_site([gateway()], {}, viewers=10)
    assert site.in_mbps == 5.0 and site.out_mbps == 50.0


def test_days_a_disk_holds_and_the_warning_when_retention_does_not_fit():
    site = plan_site([gateway()], {}, viewers=1)
    per_day = 4000 * 1000 / 8 * 86400  # 43.2 GB/day at 4 Mbit/s
    assert site.bytes_per_day == per_day
    assert abs(site.days_held - 500 * GIB / per_day) < 1e-9  # ~12.4 days
    assert site.warnings() == []  # 7 days fit
    short = plan_site([gateway(retention="30d")], {}, viewers=1)
    assert "holds 12.4 days" in short.warnings()[0] and "retention asks for up to 30 days" in short.warnings()[0]


def test_probed_bitrates_win_over_estimates(tmp_path):
    inventory = tmp_path / "site.py"
    probe_file(inventory).write_text(json.dumps({"gw1": {"a": {"bitrate_kbps": 1500.0, "keyframe_interval": 4.0}}}))
    site = plan_site([gateway()], probed(inventory), viewers=1)
    assert [(c.camera, c.kbps, c.source) for c in site.cameras] == [("a", 1500.0, "probe"), ("b", 1000.0, "inventory")]
    # a 4 s keyframe interval makes 4 s segments: three of them behind the live edge, plus one second
    assert [c.latency_s for c in site.cameras] == [13, 7]


def test_plan_command_prints_a_table_and_exits_1_when_the_disk_is_too_small(tmp_path):
    inventory = tmp_path / "site.py"
    inventory.write_text(
        "from camgate.inventory import camera, gateway\n"
        "gateways = [gateway('gw1.example.com', acme_email='a@example.com', cameras=[\n"
        "    camera('a', url='rtsp://10.0.0.2/x', record=True, retention='7d', bitrate_kbps=4000)])]\n"
    )
    ok = CliRunner().invoke(main, ["plan", str(inventory), "--disk", "2T", "--viewers", "3"])
    assert ok.exit_code == 0, ok.output
    assert "PER DAY" in ok.output and "40.2 GiB" in ok.output and "out to 3 viewers: 12.0 Mbit/s" in ok.output
    small = CliRunner().invoke(main, ["plan", str(inventory), "--disk", "100G"])
    assert small.exit_code == 1 and "warning: the disk budget holds 2.5 days" in small.output
    bad = CliRunner().invoke(main, ["plan", str(inventory), "--disk", "lots"])
    assert bad.exit_code == 2 and "--disk" in bad.output


def test_transcoding_cameras_show_their_cpu_cost_from_the_measured_table(tmp_path):
    from camgate.plan import transcode_cpu

    assert transcode_cpu(720, 25) == 25.7 and transcode_cpu(360, 25) == 8.2 and transcode_cpu(None, None) == 55.5
    assert 8.2 < transcode_cpu(540, 25) < 25.7 and transcode_cpu(720, 12.5) == 12.8
    inventory = tmp_path / "site.py"
    probe_file(inventory).write_text(json.dumps({"gw1": {"a": {"height": 720, "fps": 25}}}))
    site = plan_site([gateway(video="transcode")], probed(inventory), viewers=1)
    assert [c.transcode_cpu for c in site.cameras] == [25.7, 0.0] and site.transcode_cpu == 25.7
