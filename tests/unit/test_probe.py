"""camgate probe: figures and advice from ffprobe's output, failures named for what they are."""

from camgate.probe import analyse, classify_failure, ffprobe_command


def packets(stream: int, count: int, step: float, size: int, key_every: int | None = None, start: float = 0.0):
    return [
        {"stream_index": stream, "pts_time": f"{start + i * step:.6f}", "size": str(size),
         "flags": "K__" if key_every and i % key_every == 0 else "___"}
        for i in range(count)
    ]  # fmt: skip


def probe_json(video="h264", audio="aac", gop_frames=25):
    streams = [{"index": 0, "codec_type": "video", "codec_name": video, "width": 1920, "height": 1080, "avg_frame_rate": "25/1"}]
    data = packets(0, 150, 0.04, 5000, key_every=gop_frames)  # 6 s at 25 fps, 1 Mbit/s
    if audio:
        streams.append({"index": 1, "codec_type": "audio", "codec_name": audio})
        data += packets(1, 300, 0.02, 160, start=100.0)  # its own time origin, 64 kbit/s
    return {"streams": streams, "packets": data}


def test_figures_are_measured_per_stream():
    result = analyse("front", probe_json(), hls_time=2)
    assert (result.video_codec, result.width, result.height, result.fps) == ("h264", 1920, 1080, 25.0)
    assert result.keyframe_interval == 1.0
    assert 1050 < result.bitrate_kbps < 1080  # 1006.7 video + 64.2 audio, despite the audio's other origin
    assert result.problems == []
    assert "audio='copy' (already AAC: cheapest)" in result.advice


def test_g711_audio_is_transcoded_and_a_long_gop_raises_hls_time():
    result = analyse("yard", probe_json(audio="pcm_alaw", gop_frames=100), hls_time=2)
    assert any(a.startswith("audio='aac' (pcm_alaw cannot go into HLS") for a in result.advice)
    assert "with webrtc='main': webrtc_audio='pcma' (the camera's G.711 passes through untouched)" in result.advice
    assert any(a.startswith("hls_time=4: segments are cut at keyframes, every 4 s") for a in result.advice)


def test_hevc_is_served_with_advice_and_mjpeg_and_missing_video_are_problems():
    hevc = analyse("a", probe_json(video="hevc"), 2)
    assert not hevc.problems and any("H.265/HEVC video: served as fMP4 (hvc1)" in a for a in hevc.advice)
    assert "mjpeg video cannot be carried by HLS" in analyse("a", probe_json(video="mjpeg"), 2).problems[0]
    assert analyse("a", {"streams": [], "packets": []}, 2).problems == ["no video stream"]
    assert any("audio='none'" in a for a in analyse("a", probe_json(audio=None), 2).advice)


def test_failures_are_named():
    assert classify_failure("[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized").startswith("authentication failed")
    assert classify_failure("rtsp://10.0.0.2:554/x: Connection refused").startswith("connection refused")
    assert classify_failure("Connection timed out").startswith("unreachable")
    assert classify_failure("method DESCRIBE failed: 404 Not Found").startswith("the camera answered but")


def test_the_camera_url_travels_on_stdin_not_in_the_command():
    command = ffprobe_command("tcp", 5, 5)
    assert command.startswith("read -r url && exec ffprobe") and command.endswith('-i "$url"')
    assert "-timeout 5000000" in command and "-stimeout" in ffprobe_command("tcp", 5, 4)


def test_expected_latency_follows_the_keyframe_interval_and_advice_says_how_to_lower_it():
    from camgate.probe import LONG_PROBE_SECONDS, expected_latency

    assert expected_latency(1, 1.0) == 4 and expected_latency(2, 1.0) == 7 and expected_latency(2, 4.0) == 13
    slow = analyse("yard", probe_json(gop_frames=100), hls_time=2)
    assert "expected live latency in a standard player: about 13 s; set the camera's keyframe interval to 1-2 s to bring it down" in slow.advice
    assert any(a == "expected live latency in a standard player: about 7 s" for a in analyse("a", probe_json(), 2).advice)
    # the second look is long enough for two keyframes 10 s apart
    assert LONG_PROBE_SECONDS >= 2 * 10
    assert "-read_intervals %+21" in ffprobe_command("tcp", 5, 5, LONG_PROBE_SECONDS)
