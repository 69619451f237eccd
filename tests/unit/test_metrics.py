"""The gateway's Prometheus metrics, from a health report, a retention summary and a deploy stamp."""

import json
import os

from camgate.gateway.metrics import collect, escape, exposition

NOW = 1_800_000_000.0

HEALTH = {
    "generated": NOW - 3,
    "cameras": {
        "front": {
            "up": True, "status": "up", "newest_segment_age": 0.8, "restarts": 2,
            "measured": {"target_duration": 2, "segment_duration": 2.002, "bitrate": 1_250_000},
            "sub": {"up": False, "status": "stalled", "newest_segment_age": 31.0, "restarts": 0, "measured": {"target_duration": 2}},
            "webrtc": {"up": True, "status": "up", "viewers": 3},
        },
        "yard": {"up": False, "status": "down", "newest_segment_age": None, "restarts": 7, "measured": {}},
    },
}  # fmt: skip
SUMMARY = {
    "generated": NOW - 30,
    "store_bytes": 900,
    "budget_bytes": 1000,
    "cameras": {"front": {"bytes": 900, "files": 3, "oldest": NOW - 3600, "newest": NOW - 5}, "yard": {"bytes": 0, "files": 0, "oldest": None, "newest": None}},
}


def rows(text: str) -> dict[str, str]:
    """sample (name with labels) -> value."""
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))


def metrics_text(tmp_path, health=HEALTH, summary=SUMMARY, stamp=True) -> str:
    config = {"health": str(tmp_path / "status.json"), "retention": str(tmp_path / "summary.json"), "certificate": None}
    (tmp_path / "status.json").write_text(json.dumps(health))
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    if stamp:
        (tmp_path / "deployed.json").write_text(json.dumps({"version": "0.1.0", "inventory_sha256": "ab"}))
        os.utime(tmp_path / "deployed.json", (NOW - 86400, NOW - 86400))
        config["deploy_stamp"] = str(tmp_path / "deployed.json")
    return exposition(collect(config, now=NOW))


def test_every_camera_has_up_and_one_state(tmp_path):
    got = rows(metrics_text(tmp_path))
    assert got['camgate_camera_up{camera="front"}'] == "1" and got['camgate_camera_up{camera="yard"}'] == "0"
    assert [s for s in ("up", "down", "stalled", "unplayable") if got[f'camgate_camera_state{{camera="yard",state="{s}"}}'] == "1"] == ["down"]
    assert sum(int(v) for k, v in got.items() if k.startswith('camgate_camera_state{camera="front"')) == 1


def test_streams_report_what_was_measured_and_only_that(tmp_path):
    got = rows(metrics_text(tmp_path))
    main, sub = '{camera="front",stream="main"}', '{camera="front",stream="sub"}'
    assert got[f"camgate_stream_up{sub}"] == "0" and got[f"camgate_stream_segment_age_seconds{sub}"] == "31"
    assert got[f"camgate_stream_input_bytes_per_second{main}"] == "156250"
    assert got[f"camgate_stream_segment_duration_seconds{main}"] == "2.002"
    assert got[f"camgate_stream_restarts_total{main}"] == "2"
    assert got['camgate_stream_restarts_total{camera="yard",stream="main"}'] == "7"
    # yard has no playlist: no age, no durations (absent, not 0, which would read as "fresh")
    assert not [k for k in got if "yard" in k and ("segment" in k or "bytes_per" in k)]
    assert got['camgate_webrtc_viewers{camera="front"}'] == "3" and got['camgate_webrtc_up{camera="front"}'] == "1"
    assert 'camgate_webrtc_up{camera="yard"}' not in got


def test_recordings_budget_and_deploy(tmp_path):
    got = rows(metrics_text(tmp_path))
    assert got["camgate_recordings_budget_used_ratio"] == "0.9"
    assert got['camgate_recordings_bytes{camera="front"}'] == "900"
    assert got['camgate_recordings_oldest_timestamp_seconds{camera="front"}'] == str(int(NOW - 3600))
    assert 'camgate_recordings_oldest_timestamp_seconds{camera="yard"}' not in got
    assert got["camgate_deploy_timestamp_seconds"] == str(int(NOW - 86400))
    assert got['camgate_deploy_info{version="0.1.0"}'] == "1"
    assert got["camgate_metrics_timestamp_seconds"] == str(int(NOW))


def test_help_and_type_come_once_before_their_samples(tmp_path):
    text = metrics_text(tmp_path)
    lines = text.splitlines()
    for name in ("camgate_camera_up", "camgate_stream_restarts_total"):
        assert lines.count(f"# TYPE {name} {'counter' if name.endswith('_total') else 'gauge'}") == 1
        first = next(i for i, line in enumerate(lines) if line.startswith(name + "{"))
        assert lines[first - 1].startswith(f"# TYPE {name} ")


def test_missing_inputs_leave_their_metrics_out(tmp_path):
    config = {"health": str(tmp_path / "none.json"), "retention": None, "certificate": "fullchain.pem", "deploy_stamp": str(tmp_path / "none")}
    text = exposition(collect(config, now=NOW, credentials_dir=str(tmp_path)))
    assert rows(text) == {"camgate_metrics_timestamp_seconds": str(int(NOW))}


def test_label_values_are_escaped():
    assert escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
