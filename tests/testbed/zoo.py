"""The camera zoo: simulated cameras as real sites have them, and what a gateway should see from each.

Plain data, standard library only: the testbed (venv Python) imports it; the cameras themselves are
tests/testbed/fake_camera.py processes started with `--kind KIND [--sub] [--auth-method ...]`
(tests.testbed.cameras.start_zoo_camera). tests/tools/test_camera_zoo.py proves every expectation
below against a running fake camera with ffprobe, so a test that reads `camera.expect` can trust it.

    for cam in ZOO:
        cam.id, cam.kind, cam.mount, cam.sub, cam.auth        # what to start
        cam.expect.video_codec, cam.expect.keyframe_interval   # what the gateway gets ("hevc", 4.0)
        cam.sub_expect                                         # the <mount>-sub profile, or None

Codec names are ffprobe's (`codec_name`): h264, hevc, mjpeg; aac, pcm_alaw, pcm_mulaw.
"""

from __future__ import annotations

from dataclasses import dataclass

ZOO_PREFIX = "zoo-"
# Zoo cameras take the port slots after the plain testbed cameras (cam1..cam16 use numbers 1..16),
# so their ports (Layout.camera_port(number)) do not move when the number of plain cameras changes.
FIRST_ZOO_NUMBER = 17
# h264-jumping: the camera moves its timestamps back by JUMP_BACK_S seconds every JUMP_EVERY_S seconds
# of stream time (fake_camera.py has the same numbers).
JUMP_BACK_S = 5
JUMP_EVERY_S = 15


@dataclass(frozen=True)
class Expect:
    """What one RTSP mount delivers, as ffprobe reports it."""

    video_codec: str  # h264, hevc, mjpeg
    width: int
    height: int
    keyframe_interval: float  # seconds between keyframes (MJPEG: every frame, 1/25 s)
    audio_codec: str | None  # aac, pcm_alaw, pcm_mulaw, or None (no audio track)
    audio_rate: int | None = None  # Hz
    audio_channels: int | None = None
    # What the encoders aim at, video + audio, in kbit/s (for inventories' bitrate_kbps): the camera
    # sends about that, less for a still picture (the 720p camera's test pattern is one: ~1 Mbit/s).
    bitrate_kbps: int = 0
    framerate: int = 25

    @property
    def hls_ready_audio(self) -> bool:
        """True when the audio may be copied into HLS as it is (AAC); G.711 must be transcoded or dropped."""
        return self.audio_codec == "aac"


_AAC = {"audio_codec": "aac", "audio_rate": 48000, "audio_channels": 1}
_PCMA = {"audio_codec": "pcm_alaw", "audio_rate": 8000, "audio_channels": 1}
_PCMU = {"audio_codec": "pcm_mulaw", "audio_rate": 8000, "audio_channels": 1}
_NONE = {"audio_codec": None}

# Main profile of each kind (the mount itself).
KINDS: dict[str, Expect] = {
    "h264-aac": Expect("h264", 640, 360, 1.0, **_AAC, bitrate_kbps=1064),
    "h264-pcma": Expect("h264", 640, 360, 1.0, **_PCMA, bitrate_kbps=1064),
    "h264-pcmu": Expect("h264", 640, 360, 1.0, **_PCMU, bitrate_kbps=1064),
    "h264-720p-gop4": Expect("h264", 1280, 720, 4.0, **_NONE, bitrate_kbps=2000),
    "h265-aac": Expect("hevc", 640, 360, 1.0, **_AAC, bitrate_kbps=764, framerate=15),
    "h265-pcma": Expect("hevc", 640, 360, 1.0, **_PCMA, bitrate_kbps=764, framerate=15),
    "mjpeg": Expect("mjpeg", 640, 360, 0.04, **_NONE, bitrate_kbps=3300),  # JPEG quality 50, no rate control
    "h264-jumping": Expect("h264", 640, 360, 1.0, **_AAC, bitrate_kbps=1064),
}
DEFAULT_KIND = "h264-aac"
# Sub profile (<mount>-sub, with --sub): smaller picture for a main picture size, ~256 kbit/s video.
SUB_SIZES = {(640, 360): (384, 216), (1280, 720): (640, 360)}
SUB_VIDEO_KBPS = {"h264": 256, "hevc": 256, "mjpeg": 1600}  # MJPEG has no rate control: quality 40


def sub_expect(kind: str) -> Expect:
    """What the sub profile of a camera of `kind` delivers: the main codecs, smaller and leaner."""
    main = KINDS[kind]
    width, height = SUB_SIZES[(main.width, main.height)]
    audio_kbps = 64 if main.audio_codec else 0
    return Expect(
        main.video_codec, width, height, main.keyframe_interval, main.audio_codec, main.audio_rate,
        main.audio_channels, bitrate_kbps=SUB_VIDEO_KBPS[main.video_codec] + audio_kbps, framerate=main.framerate,
    )  # fmt: skip


@dataclass(frozen=True)
class ZooCamera:
    id: str
    kind: str
    number: int  # port slot: Layout.camera_port(number)
    sub: bool = False  # also serves <mount>-sub
    auth: str | None = None  # None, "basic" or "digest"
    # The timestamp QR code in the picture (fake_camera.py): no zoo test reads it, and it costs CPU; the
    # 720p camera keeps it because its test pattern is otherwise still (and its bit rate near nothing).
    stamp: bool = False

    @property
    def mount(self) -> str:
        return f"/{self.id}"

    @property
    def sub_mount(self) -> str | None:
        return f"/{self.id}-sub" if self.sub else None

    @property
    def expect(self) -> Expect:
        return KINDS[self.kind]

    @property
    def sub_expect(self) -> Expect | None:
        return sub_expect(self.kind) if self.sub else None

    @property
    def timestamps_jump(self) -> bool:
        """Its RTP timestamps go back by JUMP_BACK_S every JUMP_EVERY_S (ffmpeg: "Non-monotonous DTS")."""
        return self.kind == "h264-jumping"


def _zoo(kind: str, sub: bool = False, auth: str | None = None, stamp: bool = False) -> ZooCamera:
    return ZooCamera(f"{ZOO_PREFIX}{kind}", kind, FIRST_ZOO_NUMBER + list(KINDS).index(kind), sub, auth, stamp)


# One camera per kind. Sub profiles and auth are spread as sites have them: digest on the
# Hikvision/Dahua-like H.265 + G.711 camera (and a G.711 H.264 one), basic on another.
ZOO: tuple[ZooCamera, ...] = (
    _zoo("h264-aac", sub=True),
    _zoo("h264-pcma", auth="digest"),
    _zoo("h264-pcmu", auth="basic"),
    _zoo("h264-720p-gop4", sub=True, stamp=True),
    _zoo("h265-aac"),
    _zoo("h265-pcma", sub=True, auth="digest"),
    _zoo("mjpeg"),
    _zoo("h264-jumping"),
)


def zoo_camera(camera_id: str) -> ZooCamera:
    for cam in ZOO:
        if cam.id == camera_id:
            return cam
    raise KeyError(f"no zoo camera {camera_id!r}; the zoo has {', '.join(c.id for c in ZOO)}")
