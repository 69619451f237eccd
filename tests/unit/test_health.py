"""Health judges what a player would get from the playlist: collapsed or over-long segments and a
zero target duration are unplayable, an old playlist is stalled, a stopped unit is down."""

import os
import time

from camgate.gateway.health import avc1_from_annexb, extradata_bytes, judge, parse_media_playlist, playlist_problem


def playlist(durations, target=2, mapped=True) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:40"]
    if mapped:
        lines.append('#EXT-X-MAP:URI="init.mp4"')
    for number, duration in enumerate(durations, start=40):
        lines += [f"#EXTINF:{duration:.6f},", f"seg-{number}.m4s"]
    return "\n".join(lines) + "\n"


def test_an_ffmpeg_playlist_is_read_as_players_read_it():
    parsed = parse_media_playlist(playlist([2.0, 2.0, 1.96]))
    assert parsed["target"] == 2 and parsed["map"] == "init.mp4" and not parsed["encrypted"]
    assert parsed["segments"] == [("seg-40.m4s", 2.0), ("seg-41.m4s", 2.0), ("seg-42.m4s", 1.96)]
    keyed = parse_media_playlist('#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:METHOD=AES-128,URI="k.key"\n#EXTINF:1.0,\nseg-1.ts\n')
    assert keyed["encrypted"] and keyed["map"] is None


def test_a_healthy_playlist_has_no_problem():
    assert playlist_problem(parse_media_playlist(playlist([2.0, 2.04, 1.96, 2.0])), hls_time=2) is None


def test_broken_camera_timestamps_are_named():
    collapsed = parse_media_playlist(playlist([0.001111] * 6, target=0))
    assert "EXT-X-TARGETDURATION is 0" in playlist_problem(collapsed, 2)
    tiny = parse_media_playlist(playlist([0.04, 0.04, 0.001, 0.04], target=1))
    assert "segment durations collapsed to 0.040 s" in playlist_problem(tiny, 2)
    long = parse_media_playlist(playlist([2.0, 3.6], target=2))
    assert "over the target duration of 2 s" in playlist_problem(long, 2)
    assert playlist_problem(parse_media_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:2\n"), 2) == "the playlist lists no segment yet"


def camera(tmp_path, text: str) -> dict:
    path = tmp_path / "stream.m3u8"
    path.write_text(text)
    return {"id": "front", "unit": "camgate-camera-front.service", "dir": str(tmp_path), "playlist": str(path), "hls_time": 2}


def test_down_stalled_and_unplayable_are_told_apart(tmp_path):
    cam = camera(tmp_path, playlist([0.001] * 6))
    assert judge(cam, active=False, age=30.0, last_error="401 Unauthorized")[:2] == ("down", "no new segment for 30 s (401 Unauthorized)")
    assert judge(cam, active=True, age=None, last_error=None)[0] == "down"
    assert judge(cam, active=False, age=None, last_error=None)[:2] == ("down", "the camera's unit is not running")
    # restarting behind a fresh playlist: judged on what it serves (here: collapsed segments)
    assert judge(cam, active=False, age=1.0, last_error=None)[0] == "unplayable"
    stalled = judge(cam, active=True, age=9.0, last_error=None)
    assert stalled[0] == "stalled" and "no new segment for 9 s" in stalled[1]
    verdict, reason, attributes = judge(cam, active=True, age=1.0, last_error=None)
    assert verdict == "unplayable" and "collapsed" in reason and attributes == {}


def test_a_stream_that_cannot_be_read_is_unplayable_not_up(tmp_path):
    cam = camera(tmp_path, playlist([2.0, 2.0, 2.0]))
    (tmp_path / "init.mp4").write_bytes(b"\x00\x00\x00\x10junkjunkjunkjunk")
    verdict, reason, _ = judge(cam, active=True, age=1.0, last_error=None)
    assert verdict == "unplayable" and reason.startswith("the stream cannot be read")


def test_the_avc1_codec_string_comes_from_the_sps_bytes():
    dump = "00000000: 0000 0167 4d40 0cec a0a0 cfcf 8088 0000  ...gM@..........\n00000010: 0300 0800 0003 0190 78a1 4cb0 0000 0001  ........x.L.....\n"
    data = extradata_bytes(dump)
    assert data[:7] == bytes.fromhex("000001674d400c")
    assert avc1_from_annexb(data) == "avc1.4d400c"
    assert avc1_from_annexb(b"\x00\x00\x01\x68\xeb\xe3") is None  # a PPS only


def test_judging_reads_no_more_than_the_playlist_when_it_is_already_broken(tmp_path):
    cam = camera(tmp_path, playlist([2.0, 9.0], target=2))
    os.utime(cam["playlist"], (time.time(), time.time()))
    verdict, reason, _ = judge(cam, active=True, age=0.5, last_error=None)
    assert verdict == "unplayable" and "9.000 s" in reason  # no init section needed to say so
