"""`camgate probe`: what a camera really sends, measured from the gateway, and what to set for it.

The gateway runs ffprobe against the camera for a few seconds (the gateway is usually the only
machine that can reach the cameras); this module turns ffprobe's JSON into figures (codec,
resolution, frame rate, keyframe interval, bitrate, audio) and recommendations.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field

from camgate.ffmpeg import socket_timeout_option

PROBE_SECONDS = 12
# A second, longer look when the first saw fewer than two keyframes: any 21 s holds two keyframes of a
# camera that sends one every 10 s or more often (smart codecs stretch the interval to several seconds).
LONG_PROBE_SECONDS = 21
# Players start about three target durations behind the live edge (hls.js liveSyncDurationCount 3,
# AVPlayer and ExoPlayer alike); the segment being written adds up to about one second more.
LIVE_EDGE_TARGET_DURATIONS = 3
# Video codecs camgate copies into fMP4 HLS (HEVC tagged hvc1, as Apple requires).
HLS_VIDEO = {"h264", "hevc"}
HLS_AUDIO_COPY = {"aac"}


@dataclass
class ProbeResult:
    camera: str
    ok: bool
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    keyframe_interval: float | None = None
    bitrate_kbps: float | None = None
    audio_codec: str | None = None
    problems: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)

    def to_data(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("problems", "advice")} | {
            "problems": self.problems,
            "advice": self.advice,
        }


def expected_latency(hls_time: int, keyframe_interval: float | None) -> int:
    """Glass-to-glass seconds in a standard HLS player: segments are cut at keyframes, so the target
    duration is the larger of hls_time and the keyframe interval; players sit three of them back."""
    target = max(hls_time, math.ceil(keyframe_interval or 0))
    return LIVE_EDGE_TARGET_DURATIONS * target + 1


def ffprobe_command(transport: str, timeout_seconds: int, ffmpeg_major: int, seconds: int = PROBE_SECONDS) -> str:
    """A shell command run on the gateway; it reads the camera URL (with credentials) from stdin,
    so the URL never appears in a command line that SSH or a log could record."""
    argv = [
        "ffprobe", "-v", "error", "-rtsp_transport", transport,
        socket_timeout_option(ffmpeg_major), str(timeout_seconds * 1_000_000),
        "-read_intervals", f"%+{seconds}",
        "-show_entries",
        "stream=index,codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate:"
        "packet=stream_index,pts_time,dts_time,size,flags",
        "-of", "json",
    ]  # fmt: skip
    return f'read -r url && exec {shlex.join(argv)} -i "$url"'


def classify_failure(stderr: str) -> str:
    text = stderr.lower()
    if "401" in text or "unauthorized" in text:
        return "authentication failed (401): check username and the password in the secrets file"
    if "404" in text or "not found" in text:
        return "the camera answered but has no stream at this path (404): check the URL's path"
    if "connection refused" in text:
        return "connection refused: wrong port, or the camera's RTSP server is off"
    if "timed out" in text or "timeout" in text or "no route" in text or "unreachable" in text:
        return "unreachable (timed out): check the address and that the gateway can route to it"
    line = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
    return f"ffprobe failed: {line}"


def _rate(text: str | None) -> float | None:
    if not text or text in ("0/0", "0/1"):
        return None
    num, _, den = text.partition("/")
    try:
        value = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _time(packet: dict) -> float | None:
    for key in ("pts_time", "dts_time"):
        try:
            return float(packet[key])
        except (KeyError, TypeError, ValueError):
            continue
    return None


def analyse(camera: str, data: dict, hls_time: int) -> ProbeResult:
    """Figures and advice from ffprobe's JSON (streams + packets)."""
    streams = data.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    result = ProbeResult(camera=camera, ok=video is not None)
    if video is None:
        result.problems.append("no video stream")
        return result
    result.video_codec = video.get("codec_name")
    result.width, result.height = video.get("width"), video.get("height")
    result.fps = _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate"))
    packets = data.get("packets") or []
    vid = [p for p in packets if p.get("stream_index") == video.get("index")]
    keyframes = sorted(t for p in vid if "K" in (p.get("flags") or "") and (t := _time(p)) is not None)
    if len(keyframes) >= 2:
        gaps = [b - a for a, b in zip(keyframes, keyframes[1:])]
        result.keyframe_interval = round(sum(gaps) / len(gaps), 2)
    # Per stream: audio and video timestamps need not share an origin over RTSP.
    bits_per_second = 0.0
    for index in {p.get("stream_index") for p in packets}:
        own = [p for p in packets if p.get("stream_index") == index]
        times = [t for p in own if (t := _time(p)) is not None]
        if len(times) >= 2 and max(times) > min(times):
            bits_per_second += sum(int(p.get("size") or 0) for p in own) * 8 / (max(times) - min(times))
    if bits_per_second:
        result.bitrate_kbps = round(bits_per_second / 1000, 1)
    result.audio_codec = audio.get("codec_name") if audio else None
    advise(result, hls_time)
    return result


# G.711 as ffprobe names it -> the webrtc_audio that passes it to WebRTC viewers untouched.
G711_WEBRTC = {"pcm_alaw": "pcma", "pcm_mulaw": "pcmu"}


def webrtc_advice(result: ProbeResult) -> None:
    """What webrtc='main' would carry: H.264 only, and the camera's own G.711 without transcoding."""
    if result.video_codec == "h264":
        audio = G711_WEBRTC.get(result.audio_codec or "")
        if audio:
            result.advice.append(f"with webrtc='main': webrtc_audio='{audio}' (the camera's G.711 passes through untouched)")
        elif result.audio_codec:
            result.advice.append(f"with webrtc='main': webrtc_audio='opus' ({result.audio_codec} is transcoded to Opus)")
    elif result.video_codec == "hevc":
        result.advice.append("WebRTC carries H.264: for live view under a second, set webrtc='sub' with an H.264 sub profile")


def advise(result: ProbeResult, hls_time: int) -> None:
    if result.video_codec == "hevc":
        result.advice.append(
            "H.265/HEVC video: served as fMP4 (hvc1), which iPhones, Safari and Android play; browsers without "
            "an HEVC decoder do not, and encrypt=True cannot apply (ffmpeg cannot encrypt fMP4): H.264 plays everywhere"
        )
    elif result.video_codec not in HLS_VIDEO:
        result.problems.append(
            f"{result.video_codec} video cannot be carried by HLS; set the camera to H.264 or H.265, or set "
            "video='transcode' (re-encoded on the gateway; `camgate plan` shows the CPU it costs)"
        )
    if result.audio_codec is None:
        result.advice.append("audio='none' (the camera sends no audio)")
    elif result.audio_codec in HLS_AUDIO_COPY:
        result.advice.append("audio='copy' (already AAC: cheapest)")
    else:
        result.advice.append(f"audio='aac' ({result.audio_codec} cannot go into HLS; transcoded) or audio='none'")
    webrtc_advice(result)
    gop = result.keyframe_interval
    if gop is None:
        result.problems.append(
            f"no keyframe interval measured (fewer than two keyframes in {LONG_PROBE_SECONDS} s): set the "
            "camera's keyframe (I-frame) interval to 1-2 s"
        )
    elif gop > hls_time + 0.25:
        result.advice.append(
            f"hls_time={math.ceil(gop)}: segments are cut at keyframes, every {gop:g} s here, so hls_time "
            f"{hls_time} cannot be met; or set the camera's keyframe interval (GOP) to {hls_time} s for lower latency"
        )
    else:
        result.advice.append(f"hls_time={hls_time} fits the {gop:g} s keyframe interval")
    if gop is not None:
        latency = expected_latency(hls_time, gop)
        tip = "" if gop <= 2 else "; set the camera's keyframe interval to 1-2 s to bring it down"
        result.advice.append(f"expected live latency in a standard player: about {latency} s{tip}")
    if result.bitrate_kbps:
        result.advice.append(f"bitrate_kbps={round(result.bitrate_kbps)} (measured; camgate plan uses it)")
