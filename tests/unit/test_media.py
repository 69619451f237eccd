"""fMP4 facts for the multivariant playlist, from hand-built boxes: codec strings (RFC 6381, ISO/IEC
14496-15 Annex E), durations from trun/tfhd/trex, bit rates (RFC 8216 4.3.4.2), the playlist text,
and bad bytes always ending in MediaError."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camgate.gateway.media import (
    Fragment,
    MediaError,
    SegmentInfo,
    aac_config,
    avc_codec,
    boxes,
    hevc_codec,
    multivariant_playlist,
    nominal_frame_rate,
    read_init,
    read_segment,
    variant_stream_inf,
)

# --- builders: just enough ISO BMFF to be read back -------------------------------------------------


def box(kind: str, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind.encode("latin-1")) + body


def full(kind: str, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", version << 24 | flags), *payload)


def avcc(profile: int, compat: int, level: int) -> bytes:
    """AVCDecoderConfigurationRecord without parameter sets."""
    return box("avcC", bytes([1, profile, compat, level, 0xFF, 0xE0, 0x00]))


def hvcc(profile: int, compat: int, constraints: bytes, level: int, space: int = 0, tier: int = 0) -> bytes:
    """HEVCDecoderConfigurationRecord (23 bytes, no NAL arrays)."""
    head = bytes([1, space << 6 | tier << 5 | profile]) + struct.pack(">I", compat) + constraints + bytes([level])
    return box("hvcC", head + bytes([0xF0, 0x00, 0xFC, 0xFD, 0xF8, 0xF8, 0x00, 0x00, 0x0F, 0x00]))


def descriptor(tag: int, body: bytes, long_size: bool = False) -> bytes:
    """An MPEG-4 descriptor; long_size writes the size in 4 bytes as ffmpeg does (80 80 80 nn)."""
    size = bytes([0x80, 0x80, 0x80, len(body)]) if long_size else bytes([len(body)])
    return bytes([tag]) + size + body


def esds(oti: int = 0x40, config: bytes | None = b"\x11\x90", long_size: bool = True) -> bytes:
    specific = descriptor(0x05, config, long_size) if config is not None else b""
    decoder = descriptor(0x04, bytes([oti, 0x15, 0, 0, 0]) + struct.pack(">II", 128000, 128000) + specific, long_size)
    es = descriptor(0x03, struct.pack(">HB", 1, 0) + decoder + descriptor(0x06, b"\x02", long_size), long_size)
    return full("esds", 0, 0, es)


def visual_entry(fourcc: str, width: int, height: int, *inside: bytes) -> bytes:
    fields = b"\0" * 6 + struct.pack(">H", 1) + b"\0" * 16 + struct.pack(">HHII", width, height, 0x480000, 0x480000)
    return box(fourcc, fields + b"\0" * 4 + struct.pack(">H", 1) + b"\0" * 32 + struct.pack(">Hh", 24, -1), *inside)


def audio_entry(fourcc: str, channels: int, rate: int, *inside: bytes) -> bytes:
    fields = b"\0" * 6 + struct.pack(">H", 1) + b"\0" * 8 + struct.pack(">HHHHI", channels, 16, 0, 0, rate << 16)
    return box(fourcc, fields, *inside)


def trak(track_id: int, timescale: int, handler: str, entry: bytes, tkhd_version: int = 0) -> bytes:
    times = struct.pack(">QQ", 0, 0) if tkhd_version else struct.pack(">II", 0, 0)
    tkhd = full("tkhd", tkhd_version, 3, times, struct.pack(">I", track_id), b"\0" * 60)
    mdhd = full("mdhd", 0, 0, struct.pack(">IIII", 0, 0, timescale, 0), struct.pack(">HH", 0x55C4, 0))
    hdlr = full("hdlr", 0, 0, struct.pack(">I4s", 0, handler.encode()), b"\0" * 12, b"Handler\0")
    stsd = full("stsd", 0, 0, struct.pack(">I", 1), entry)
    stbl = box("stbl", stsd, full("stts", 0, 0, b"\0" * 4), full("stsc", 0, 0, b"\0" * 4))
    return box("trak", tkhd, box("mdia", mdhd, hdlr, box("minf", full("vmhd", 0, 1, b"\0" * 8), stbl)))


def init_section(*traks: bytes, trex: tuple[tuple[int, int], ...] = ((1, 0), (2, 0))) -> bytes:
    mvex = box("mvex", *(full("trex", 0, 0, struct.pack(">IIIII", tid, 1, dur, 0, 0)) for tid, dur in trex))
    moov = box("moov", full("mvhd", 0, 0, b"\0" * 96), *traks, mvex)
    return box("ftyp", b"iso5\0\0\x02\0iso5iso6mp41") + moov


H264_TRAK = trak(1, 90000, "vide", visual_entry("avc1", 1920, 1080, avcc(0x64, 0x00, 0x28), box("pasp", b"\0\0\0\1\0\0\0\1")))
AAC_TRAK = trak(2, 16000, "soun", audio_entry("mp4a", 2, 16000, esds(config=bytes([0x14, 0x08]))))  # LC, 16 kHz, mono
H264_AAC = init_section(H264_TRAK, AAC_TRAK)


def traf(track_id: int, decode_time: int | None, durations: list[int] | None = None, count: int = 0,
         tfhd_duration: int | None = None, tfdt_version: int = 1) -> bytes:  # fmt: skip
    """A track fragment: per-sample durations in trun when given, else `count` samples."""
    flags = 0x020000 | (0x08 if tfhd_duration is not None else 0)
    tfhd = full("tfhd", 0, flags, struct.pack(">I", track_id), struct.pack(">I", tfhd_duration) if tfhd_duration is not None else b"")
    tfdt = b"" if decode_time is None else full("tfdt", tfdt_version, 0, struct.pack(">Q" if tfdt_version else ">I", decode_time))
    if durations is not None:  # data offset, first sample flags, per-sample duration and size
        samples = b"".join(struct.pack(">II", d, 1000) for d in durations)
        trun = full("trun", 0, 0x000305, struct.pack(">IiI", len(durations), 0, 0x02000000), samples)
    else:
        trun = full("trun", 0, 0x000001, struct.pack(">Ii", count, 0))
    return box("traf", tfhd, tfdt, trun)


def segment(*trafs: bytes, mdat: int = 5000) -> bytes:
    moof = box("moof", full("mfhd", 0, 0, struct.pack(">I", 7)), *trafs)
    return box("styp", b"msdh\0\0\0\0msdhmsix") + moof + box("mdat", b"\0" * mdat)


# --- boxes ---------------------------------------------------------------------------------------------


def test_boxes_reads_sizes_largesize_and_to_the_end():
    data = box("ftyp", b"iso5") + struct.pack(">I4sQ", 1, b"free", 20) + b"1234" + struct.pack(">I4s", 0, b"mdat") + b"xyz"
    found = boxes(data)
    assert [(b.kind, b.body - b.start, b.length, b.truncated) for b in found] == [
        ("ftyp", 8, 4, False), ("free", 16, 4, False), ("mdat", 8, 3, False),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "data, last",
    [
        (box("moov", b"x" * 20)[:-3], ("moov", True)),  # declared size past the end
        (box("ftyp", b"iso5") + b"\0\0\0", ("", True)),  # a header cut short
        (struct.pack(">I4s", 5, b"junk") + b"x" * 40, ("junk", True)),  # smaller than its own header
        (struct.pack(">I4s", 1, b"free") + b"\0\0", ("free", True)),  # largesize cut short
    ],
)
def test_boxes_stops_at_the_first_unreadable_box(data, last):
    found = boxes(data)
    assert (found[-1].kind, found[-1].truncated) == last
    assert all(not b.truncated for b in found[:-1])
    assert all(b.end <= len(data) for b in found)


# --- codec strings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fourcc, record, expected",
    [
        ("avc1", (0x64, 0x00, 0x1F), "avc1.64001f"),  # High 3.1 (Apple's examples: lower-case hex)
        ("avc1", (0x42, 0xE0, 0x1E), "avc1.42e01e"),  # Constrained Baseline 3.0
        ("avc3", (0x4D, 0x40, 0x28), "avc3.4d4028"),
    ],
)
def test_avc_codec_string(fourcc, record, expected):
    assert avc_codec(fourcc, bytes([1, *record, 0xFF, 0xE1])) == expected


@pytest.mark.parametrize(
    "fourcc, fields, expected",
    [
        ("hvc1", {"profile": 1, "compat": 0x60000000, "constraints": b"\xb0" + b"\0" * 5, "level": 93}, "hvc1.1.6.L93.B0"),
        ("hvc1", {"profile": 2, "compat": 0x20000000, "constraints": b"\xb0" + b"\0" * 5, "level": 123}, "hvc1.2.4.L123.B0"),  # Apple's Main 10
        ("hev1", {"profile": 1, "compat": 0x60000000, "constraints": b"\x90" + b"\0" * 5, "level": 63}, "hev1.1.6.L63.90"),  # x265
        ("hvc1", {"profile": 1, "compat": 0x60000000, "constraints": b"\0" * 6, "level": 93}, "hvc1.1.6.L93"),  # no constraint bytes
        ("hvc1", {"profile": 1, "compat": 0x60000000, "constraints": b"\xb0\x00\x01\x00\x00\x00", "level": 93}, "hvc1.1.6.L93.B0.0.1"),
        # Annex E's example: profile space 1 (A), profile 4, High tier, two constraint bytes.
        ("hev1", {"profile": 4, "compat": 0x82000000, "constraints": b"\xb0\x23" + b"\0" * 4, "level": 120, "space": 1, "tier": 1},
         "hev1.A4.41.H120.B0.23"),
    ],
)  # fmt: skip
def test_hevc_codec_string(fourcc, fields, expected):
    record = hvcc(**fields)[8:]
    assert hevc_codec(fourcc, record) == expected


def bits(*fields: tuple[int, int]) -> bytes:
    """(value, width) bit fields, most significant first, zero-padded to whole bytes."""
    value, width = 0, 0
    for field, size in fields:
        value, width = value << size | field, width + size
    pad = -width % 8
    return (value << pad).to_bytes((width + pad) // 8, "big")


@pytest.mark.parametrize(
    "config, expected",
    [
        (b"\x11\x90", (2, 48000, 2)),  # AAC-LC 48 kHz stereo (what ffmpeg's aac encoder writes)
        (b"\x14\x08", (2, 16000, 1)),  # AAC-LC 16 kHz mono (camgate's transcoded audio)
        (bits((5, 5), (7, 4), (2, 4), (4, 4), (2, 5)), (5, 44100, 2)),  # explicit HE-AAC: 22.05 kHz core
        (bits((29, 5), (6, 4), (1, 4), (3, 4), (2, 5)), (29, 48000, 2)),  # HE-AAC v2: mono core, stereo out
        (bits((31, 5), (10, 6), (5, 4), (0, 4)), (42, 32000, None)),  # escaped object type, channels in a PCE
        (bits((2, 5), (15, 4), (11025, 24), (1, 4)), (2, 11025, 1)),  # a rate written out in Hz
    ],
)
def test_aac_config(config, expected):
    assert aac_config(config) == expected


def test_aac_config_cut_short_is_a_media_error():
    with pytest.raises(MediaError, match="AudioSpecificConfig cut short"):
        aac_config(b"\x11")


@pytest.mark.parametrize(
    "entry, codec",
    [
        (esds(), "mp4a.40.2"),
        (esds(long_size=False), "mp4a.40.2"),  # one-byte descriptor sizes
        (esds(config=bits((5, 5), (7, 4), (2, 4), (4, 4), (2, 5))), "mp4a.40.5"),
        (esds(oti=0x6B, config=None), "mp4a.6b"),  # MPEG-1 audio
        (esds(config=None), None),  # MPEG-4 audio without an AudioSpecificConfig: cannot be named
    ],
)
def test_mp4a_codec_string_from_esds(entry, codec):
    init = read_init(init_section(trak(2, 48000, "soun", audio_entry("mp4a", 2, 48000, entry)), trex=()))
    assert init.audio.codec == codec


@pytest.mark.parametrize("version, extra, expected", [(1, struct.pack(">IIII", 1024, 0, 0, 2), (22050, 1)), (2, None, (96000, 6))])
def test_quicktime_sound_description_versions(version, extra, expected):
    """QuickTime v1/v2 sound entries add fields before the child boxes (v2: the rate as a float64)."""
    fields = b"\0" * 6 + struct.pack(">HHH", 1, version, 0) + b"\0" * 4 + struct.pack(">HHHHI", 1, 16, 0, 0, 22050 << 16)
    if version == 2:
        fields = fields[:-4] + struct.pack(">I", 0x10000) + struct.pack(">IdII", 72, 96000.0, 6, 0x7F000000) + b"\0" * 16
    else:
        fields += extra
    entry = box("alac", fields, box("alac", b"\0" * 28))
    audio = read_init(init_section(trak(2, 48000, "soun", entry), trex=())).audio
    assert (audio.sample_rate, audio.channels, audio.codec) == (*expected, None)
    with_esds = box("mp4a", fields, esds())
    assert read_init(init_section(trak(2, 48000, "soun", with_esds), trex=())).audio.codec == "mp4a.40.2"
    if version == 2:
        nan = box("mp4a", fields[:32] + struct.pack(">d", float("nan")) + fields[40:], esds())
        with pytest.raises(MediaError, match="sample rate"):
            read_init(init_section(trak(2, 48000, "soun", nan), trex=()))


# --- read_init -----------------------------------------------------------------------------------------


def test_read_init_h264_and_aac():
    init = read_init(H264_AAC)
    video, audio = init.video, init.audio
    assert (video.track_id, video.handler, video.timescale, video.sample_entry, video.codec) == (1, "vide", 90000, "avc1", "avc1.640028")
    assert (video.width, video.height, video.default_sample_duration) == (1920, 1080, 0)
    assert (audio.track_id, audio.timescale, audio.sample_entry, audio.codec) == (2, 16000, "mp4a", "mp4a.40.2")
    # The sample entry says 2 channels (a template value in MP4); the AudioSpecificConfig says mono.
    assert (audio.sample_rate, audio.channels) == (16000, 1)


def test_read_init_hevc_with_tkhd_version_1_and_trex_defaults():
    entry = visual_entry("hvc1", 2560, 1440, hvcc(1, 0x60000000, b"\xb0" + b"\0" * 5, 150))
    init = read_init(init_section(trak(7, 12800, "vide", entry, tkhd_version=1), trex=((7, 512),)))
    (track,) = init.tracks
    assert (track.track_id, track.codec, track.width, track.height) == (7, "hvc1.1.6.L150.B0", 2560, 1440)
    assert track.default_sample_duration == 512
    assert init.audio is None


def test_a_format_without_a_known_codec_string_reads_as_none():
    init = read_init(init_section(trak(1, 90000, "vide", visual_entry("av01", 1280, 720, box("av1C", b"\x81\x05\x0c\x00"))), trex=()))
    assert (init.video.sample_entry, init.video.codec, init.video.width) == ("av01", None, 1280)
    seg = SegmentInfo((Fragment(1, "vide", 90000, 25, 90000, 0),), 1000, False)
    assert "CODECS" not in variant_stream_inf(init, [(seg, 1000)])  # left out rather than incomplete


def test_every_cut_of_an_init_section_is_a_media_error():
    for cut in range(len(H264_AAC)):
        with pytest.raises(MediaError):
            read_init(H264_AAC[:cut])


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "no moov box"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "no complete moov box"),
        (box("ftyp", b"iso5") + box("free", b""), "no moov box"),
        (box("moov", full("mvhd", 0, 0, b"\0" * 96)), "no trak"),
        (box("moov", box("trak", box("mdia"))), "no complete tkhd"),
        (init_section(trak(1, 0, "vide", visual_entry("avc1", 8, 8, avcc(0x64, 0, 0x1F)))), "timescale is 0"),
        (init_section(trak(1, 90000, "vide", visual_entry("avc1", 8, 8, box("avcC", b"\x00\x64")))), "not an AVC configuration"),
        (init_section(trak(1, 90000, "vide", visual_entry("hvc1", 8, 8, box("hvcC", b"\x01\x01\x60")))), "not an HEVC configuration"),
        (init_section(trak(2, 48000, "soun", audio_entry("mp4a", 2, 48000, full("esds", 0, 0, b"\x03\x80\x80")))), "esds"),
    ],
)
def test_junk_init_sections_raise_media_errors_that_say_why(data, message):
    with pytest.raises(MediaError, match=message):
        read_init(data)


BAD_BYTES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@BAD_BYTES
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_a_result_or_a_media_error(data):
    for read in (read_init, lambda b: read_segment(b, read_init(H264_AAC))):
        try:
            read(data)
        except MediaError:
            pass


@BAD_BYTES
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6))
def test_corrupted_bytes_give_a_result_or_a_media_error(flips):
    init = read_init(H264_AAC)
    for data, read in ((H264_AAC, read_init), (SEGMENT, lambda b: read_segment(b, init))):
        corrupt = bytearray(data)
        for at, value in flips:
            corrupt[at % len(corrupt)] = value
        try:
            read(bytes(corrupt))
        except MediaError:
            pass


# --- read_segment --------------------------------------------------------------------------------------

# 2 s of 25 fps video at 90 kHz (per-sample durations), 2.048 s of 16 kHz AAC (tfhd default duration).
SEGMENT = segment(traf(1, 180000, durations=[3600] * 50), traf(2, 32768, count=32, tfhd_duration=1024))


def test_read_segment_counts_samples_and_durations_per_track():
    info = read_segment(SEGMENT, read_init(H264_AAC))
    video, audio = info.video, info.audio
    assert (video.track_id, video.samples, video.duration, video.seconds, video.start) == (1, 50, 180000, 2.0, 2.0)
    assert (audio.track_id, audio.samples, audio.duration, audio.seconds, audio.start) == (2, 32, 32768, 2.048, 2.048)
    assert (info.duration, info.frame_rate, info.size, info.truncated) == (2.0, 25.0, len(SEGMENT), False)


def test_sample_durations_fall_back_to_trex():
    init = read_init(init_section(H264_TRAK, AAC_TRAK, trex=((1, 3003), (2, 1024))))
    info = read_segment(segment(traf(1, 0, count=30, tfdt_version=0), traf(2, None, count=15)), init)
    assert (info.video.duration, info.audio.duration, info.audio.start) == (30 * 3003, 15 * 1024, None)
    assert round(info.frame_rate, 3) == 29.97


def test_no_sample_duration_anywhere_is_a_media_error():
    init = read_init(init_section(H264_TRAK, trex=()))
    with pytest.raises(MediaError, match="track 1: no sample durations"):
        read_segment(segment(traf(1, 0, count=25)), init)


def test_several_moofs_in_one_segment_add_up():
    one = segment(traf(1, 0, durations=[3600] * 25))
    two = segment(traf(1, 90000, durations=[3600] * 25))
    info = read_segment(one + two, read_init(H264_AAC))
    assert (info.video.samples, info.video.duration, info.video.start) == (50, 180000, 0.0)


def test_the_head_of_a_segment_is_enough():
    """moof comes before mdat: the first few kB of a big segment give the same counts."""
    init = read_init(H264_AAC)
    whole = read_segment(SEGMENT, init)
    head = read_segment(SEGMENT[: len(SEGMENT) - 4000], init)
    assert head.tracks == whole.tracks and head.truncated and not whole.truncated


def test_a_segment_cut_inside_its_moof_is_a_media_error():
    init = read_init(H264_AAC)
    moof_end = SEGMENT.index(b"mdat") - 4
    for cut in range(moof_end):
        with pytest.raises(MediaError):
            read_segment(SEGMENT[:cut], init)
    assert read_segment(SEGMENT[:moof_end], init).tracks == read_segment(SEGMENT, init).tracks


def test_tracks_the_init_section_does_not_know_are_skipped():
    init = read_init(H264_AAC)
    info = read_segment(segment(traf(9, 0, count=3, tfhd_duration=10), traf(1, 0, durations=[3600] * 25)), init)
    assert [f.track_id for f in info.tracks] == [1]
    with pytest.raises(MediaError, match="no track fragment for the init section's tracks"):
        read_segment(segment(traf(9, 0, count=3, tfhd_duration=10)), init)


def test_a_trun_longer_than_its_box_is_a_media_error():
    bad = SEGMENT.replace(struct.pack(">IiI", 50, 0, 0x02000000), struct.pack(">IiI", 5000, 0, 0x02000000))
    with pytest.raises(MediaError, match="trun declares 5000 samples"):
        read_segment(bad, read_init(H264_AAC))


# --- variant_stream_inf --------------------------------------------------------------------------------


def seg(seconds: float, frames: int | None = None, timescale: int = 90000) -> SegmentInfo:
    frames = round(seconds * 25) if frames is None else frames
    return SegmentInfo((Fragment(1, "vide", timescale, frames, round(seconds * timescale), 0),), 0, False)


def test_stream_inf_attributes():
    init = read_init(H264_AAC)
    attributes = variant_stream_inf(init, [(seg(2), 500_000), (seg(2), 1_000_000), (seg(2), 250_000)])
    assert attributes == {
        "BANDWIDTH": 4_000_000,  # the biggest 2 s segment (no two together fit in 1.5 x 2 s)
        "AVERAGE-BANDWIDTH": 2_333_334,  # 14 Mbit over 6 s, rounded up
        "CODECS": "avc1.640028,mp4a.40.2",
        "RESOLUTION": "1920x1080",
        "FRAME-RATE": "25.000",
    }
    assert list(attributes) == ["BANDWIDTH", "AVERAGE-BANDWIDTH", "CODECS", "RESOLUTION", "FRAME-RATE"]


def test_peak_bandwidth_is_over_runs_of_half_to_one_and_a_half_target_durations():
    """A short segment is measured together with its neighbour, not alone (RFC 8216 4.3.4.2)."""
    init = read_init(H264_AAC)
    segments = [(seg(2), 500_000), (seg(0.2, 5), 200_000), (seg(1.8, 45), 400_000)]
    # Runs within [1 s, 3 s]: 2 s (4 Mbit), 2.2 s (5.6 Mbit), 2 s (4.8 Mbit), 1.8 s (3.2 Mbit);
    # the 0.2 s segment alone (1.6 Mbit: 8 Mbit/s) is too short to count.
    assert variant_stream_inf(init, segments)["BANDWIDTH"] == 2_545_455
    assert variant_stream_inf(init, segments, target_duration=6)["BANDWIDTH"] == 2_200_000  # only all 4 s
    # No run long enough: the biggest single segment's rate.
    assert variant_stream_inf(init, [(seg(0.2, 5), 200_000)], target_duration=6)["BANDWIDTH"] == 8_000_000


def test_segments_without_duration_are_not_measured():
    init = read_init(H264_AAC)
    assert variant_stream_inf(init, [(seg(0, 0), 10**6), (seg(1), 125_000)])["BANDWIDTH"] == 1_000_000
    with pytest.raises(MediaError, match="no segment with a duration"):
        variant_stream_inf(init, [(seg(0, 0), 10**6)])
    with pytest.raises(MediaError):
        variant_stream_inf(init, [])


@pytest.mark.parametrize(
    "frames, seconds, expected",
    [
        (25, 1.0, "25.000"),
        (30, 1.001, "29.970"),
        (60, 1.001, "59.940"),
        (25, 2.0, "12.500"),  # half of 25 is not a whole rate and stays as it is
        (250, 10.004, "25.000"),  # a camera clock a little off
        (7, 1.0, "7.000"),
    ],
)
def test_frame_rate(frames, seconds, expected):
    attributes = variant_stream_inf(read_init(H264_AAC), [(seg(seconds, frames), 1000)])
    assert attributes["FRAME-RATE"] == expected


def test_nominal_frame_rate_keeps_ntsc_and_whole_rates_apart():
    assert nominal_frame_rate(29.9701) == pytest.approx(30000 / 1001)
    assert nominal_frame_rate(29.999) == 30.0
    assert nominal_frame_rate(26.0) == 26.0
    assert nominal_frame_rate(12.5) == 12.5


def test_audio_only_has_no_resolution_or_frame_rate():
    init = read_init(init_section(AAC_TRAK, trex=()))
    audio = SegmentInfo((Fragment(2, "soun", 16000, 16, 16384, 0),), 0, False)
    assert variant_stream_inf(init, [(audio, 8192)]) == {"BANDWIDTH": 64_000, "AVERAGE-BANDWIDTH": 64_000, "CODECS": "mp4a.40.2"}


# --- multivariant_playlist -----------------------------------------------------------------------------


def test_multivariant_playlist_text():
    main = {"BANDWIDTH": 4_000_000, "AVERAGE-BANDWIDTH": 3_500_000, "CODECS": "hvc1.1.6.L93.B0,mp4a.40.2",
            "RESOLUTION": "1920x1080", "FRAME-RATE": "25.000"}  # fmt: skip
    sub = {
        "BANDWIDTH": 600_000,
        "AVERAGE-BANDWIDTH": 512_000,
        "CODECS": "avc1.64001f,mp4a.40.2",
        "RESOLUTION": "640x360",
        "FRAME-RATE": 12.5,
    }
    assert multivariant_playlist([("main/stream.m3u8", main), ("sub/stream.m3u8", sub)]) == (
        "#EXTM3U\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=4000000,AVERAGE-BANDWIDTH=3500000,CODECS="hvc1.1.6.L93.B0,mp4a.40.2",RESOLUTION=1920x1080,FRAME-RATE=25.000\n'
        "main/stream.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=600000,AVERAGE-BANDWIDTH=512000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=12.500\n'
        "sub/stream.m3u8\n"
    )


def test_a_main_stream_measured_below_its_sub_stream_is_still_listed_first():
    text = multivariant_playlist([("stream.m3u8", {"BANDWIDTH": 90_000}), ("sub/stream.m3u8", {"BANDWIDTH": 400_000})])
    assert [line for line in text.splitlines() if not line.startswith("#")] == ["stream.m3u8", "sub/stream.m3u8"]


def test_variants_keep_their_order_and_other_quoted_attributes_are_quoted():
    text = multivariant_playlist(
        [("a.m3u8", {"BANDWIDTH": 1, "AUDIO": "aac", "CLOSED-CAPTIONS": "NONE"}), ("b.m3u8", {"BANDWIDTH": 1})],
        independent_segments=False,
    )
    assert (
        text == '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="aac",CLOSED-CAPTIONS=NONE\na.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1\nb.m3u8\n'
    )


@pytest.mark.parametrize(
    "uri, attributes, message",
    [
        ("a.m3u8", {"CODECS": "avc1.64001f"}, "BANDWIDTH"),
        ("a.m3u8\n#EXT-X-ENDLIST", {"BANDWIDTH": 1}, "URI"),
        ("#EXT-X-ENDLIST", {"BANDWIDTH": 1}, "URI"),
        ("a.m3u8", {"BANDWIDTH": 1, "CODECS": 'avc1"'}, "quoted-string"),
        ("a.m3u8", {"BANDWIDTH": 1, "RESOLUTION": "1x1,FOO=1"}, "must be quoted"),
    ],
)
def test_what_cannot_be_written_is_refused(uri, attributes, message):
    with pytest.raises(ValueError, match=message):
        multivariant_playlist([(uri, attributes)])


@pytest.mark.parametrize("attributes", [{"BANDWIDTH": "100"}, {"BANDWIDTH": True}, {"BANDWIDTH": 1, "FRAME-RATE": None}])
def test_values_of_the_wrong_type_are_refused(attributes):
    with pytest.raises(TypeError):
        multivariant_playlist([("a.m3u8", attributes)])


def test_stream_inf_output_round_trips_through_the_playlist():
    init = read_init(H264_AAC)
    info = read_segment(SEGMENT, init)
    rng = random.Random(7)
    segments = [(info, rng.randint(400_000, 600_000)) for _ in range(5)]
    text = multivariant_playlist([("stream.m3u8", variant_stream_inf(init, segments))])
    line = text.splitlines()[2]
    assert line.startswith("#EXT-X-STREAM-INF:BANDWIDTH=") and 'CODECS="avc1.640028,mp4a.40.2"' in line
    assert line.endswith(",RESOLUTION=1920x1080,FRAME-RATE=25.000")
