"""What a camera's fMP4 HLS really carries, read from its bytes, for its multivariant playlist (on the gateway).

Standard library only. ffmpeg copies each camera's H.264 or HEVC (and AAC) into CMAF segments: an init
section (init.mp4, the playlist's EXT-X-MAP) and fragments seg-N.m4s. ffmpeg 5.1's own master playlist
has no CODECS, AVERAGE-BANDWIDTH or FRAME-RATE for copied streams, so they are read here:

    init = read_init(init_bytes)                             # tracks, codecs (RFC 6381), size, rate
    segments = [(read_segment(head, init), file_size), ...]   # recent segments, in playlist order
    attributes = variant_stream_inf(init, segments)          # BANDWIDTH, AVERAGE-BANDWIDTH, CODECS, ...
    text = multivariant_playlist([("stream.m3u8", attributes)])

All functions are pure: the caller reads the files. read_segment needs only the segment's moof boxes,
which come first, so the head of a big segment will do (with its real size passed along separately).

Errors: read_init and read_segment raise MediaError (a ValueError), with a message saying what is
wrong and where, when the bytes are not what they must be (junk, cut short, a required box missing or
too small); they never raise anything else on bad input and never return half-read results silently.
A codec this module cannot name is not an error: its codec string is None, and variant_stream_inf then
leaves CODECS out (RFC 8216: SHOULD, not MUST) rather than write a list that misses a format.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

VISUAL_ENTRY_SIZE = 78  # SampleEntry (8) + VisualSampleEntry fields (70) before its child boxes
AUDIO_ENTRY_SIZE = 28  # SampleEntry (8) + AudioSampleEntry fields (20), QuickTime sound version 0
AUDIO_ENTRY_EXTRA = {0: 0, 1: 16, 2: 36}  # QuickTime sound description versions 1 and 2 add fields
# Sample entries whose RFC 6381 codec string is the four-character code itself (in lower case for Opus/FLAC).
FOURCC_CODECS = {"ac-3": "ac-3", "ec-3": "ec-3", "Opus": "opus", "fLaC": "flac"}
# tfhd / trun flags (ISO/IEC 14496-12 8.8.7, 8.8.8).
TFHD_BASE_DATA_OFFSET = 0x000001
TFHD_SAMPLE_DESCRIPTION_INDEX = 0x000002
TFHD_DEFAULT_SAMPLE_DURATION = 0x000008
TRUN_DATA_OFFSET = 0x000001
TRUN_FIRST_SAMPLE_FLAGS = 0x000004
TRUN_SAMPLE_DURATION = 0x000100
TRUN_SAMPLE_FIELDS = 0x000F00  # duration, size, flags, composition time offset: 4 bytes each
# Multivariant playlist: EXT-X-STREAM-INF attributes whose values are quoted-strings (RFC 8216bis 4.4.6.2).
QUOTED_ATTRIBUTES = frozenset({
    "CODECS", "SUPPLEMENTAL-CODECS", "ALLOWED-CPC", "REQ-VIDEO-LAYOUT", "STABLE-VARIANT-ID",
    "AUDIO", "VIDEO", "SUBTITLES", "CLOSED-CAPTIONS", "PATHWAY-ID",
})  # fmt: skip
# AudioSpecificConfig: samplingFrequencyIndex to Hz, channelConfiguration to channels (ISO/IEC 14496-3).
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
AAC_CHANNELS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8}
FRAME_RATE_SNAP = 0.005  # a measured rate within 0.5 % of a common one is that one
COMMON_FRAME_RATES = tuple(float(n) for n in range(1, 121)) + tuple(n * 1000 / 1001 for n in (15, 24, 30, 48, 60, 120))


class MediaError(ValueError):
    """The bytes are not a usable init section or media segment; the message says what and where."""


# ---------------------------------------------------------------------------------------------------
# ISO BMFF boxes


@dataclass(frozen=True)
class Box:
    """One box found in a buffer, by offsets into it (the payload is data[body:end])."""

    kind: str  # its four-character type ('moov'); '' when even the header is cut
    start: int  # offset of its first byte
    body: int  # offset of its payload, after size, type and any 64-bit largesize
    end: int  # offset just past its last byte present (never past the data or the parent)
    size: int  # the size its header declares, header included (0 when the header is cut)
    truncated: bool  # it cannot be read whole: data or parent end early, or the size is junk

    @property
    def length(self) -> int:
        return self.end - self.body


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[Box]:
    """The boxes laid end to end in data[start:end], in order. Never raises: the walk stops at the first
    box that cannot be read whole (cut short, or a size smaller than its own header), which is the last
    one returned, with truncated=True. A size of 0 means "to the end" (of the data or of the parent)."""
    end = len(data) if end is None else min(end, len(data))
    found: list[Box] = []
    offset = start
    while offset < end:
        if end - offset < 8:
            found.append(Box("", offset, end, end, 0, True))
            break
        size, raw = struct.unpack_from(">I4s", data, offset)
        kind = raw.decode("latin-1")
        header = 8
        if size == 1:
            if end - offset < 16:
                found.append(Box(kind, offset, end, end, 0, True))
                break
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:
            size = end - offset
        if size < header:
            found.append(Box(kind, offset, offset + header, offset + header, size, True))
            break
        if offset + size > end:
            found.append(Box(kind, offset, offset + header, end, size, True))
            break
        found.append(Box(kind, offset, offset + header, offset + size, size, False))
        offset += size
    return found


def children(data: bytes, parent: Box, kind: str) -> list[Box]:
    """The complete boxes of one type directly inside a container box."""
    return [box for box in boxes(data, parent.body, parent.end) if box.kind == kind and not box.truncated]


def child(data: bytes, parent: Box, kind: str) -> Box | None:
    """The first complete box of that type directly inside a container box, or None."""
    found = children(data, parent, kind)
    return found[0] if found else None


def need(data: bytes, parent: Box, path: str, where: str) -> Box:
    """The box at a '/'-separated path below parent (first of each type), or MediaError naming it."""
    box = parent
    for kind in path.split("/"):
        found = child(data, box, kind)
        if found is None:
            raise MediaError(f"{where}: no complete {kind} box in {box.kind}")
        box = found
    return box


def fields(data: bytes, box: Box, offset: int, fmt: str, where: str) -> tuple:
    """struct.unpack(fmt) at that offset of the box's payload, or MediaError if the box is too short."""
    at = box.body + offset
    if offset < 0 or at + struct.calcsize(fmt) > box.end:
        raise MediaError(f"{where}: {box.kind} box too short ({box.length} bytes of payload)")
    return struct.unpack_from(fmt, data, at)


def full_box(data: bytes, box: Box, where: str) -> tuple[int, int]:
    """(version, flags) of a FullBox."""
    (word,) = fields(data, box, 0, ">I", where)
    return word >> 24, word & 0xFFFFFF


def top_level(data: bytes, kind: str, what: str) -> list[Box]:
    """Every complete top-level box of that type; MediaError when there is none, saying whether the
    data looked cut short (a truncated box of that type, or any truncated box before the end)."""
    found = boxes(data)
    complete = [box for box in found if box.kind == kind and not box.truncated]
    if complete:
        return complete
    cut = [box for box in found if box.truncated]
    if cut and cut[-1].kind == kind:
        raise MediaError(f"{what} cut short: its {kind} box declares {cut[-1].size} bytes, {cut[-1].end - cut[-1].start} present")
    if cut:
        raise MediaError(f"{what}: no complete {kind} box (unreadable box at byte {cut[-1].start})")
    raise MediaError(f"{what}: no {kind} box ({len(data)} bytes: {' '.join(ascii(b.kind) for b in found[:6]) or 'empty'})")


# ---------------------------------------------------------------------------------------------------
# Codec strings (RFC 6381; ISO/IEC 14496-15 Annex E for HEVC)


def avc_codec(fourcc: str, avcc: bytes) -> str:
    """'avc1.PPCCLL' from an AVCDecoderConfigurationRecord: profile, constraint flags, level in hex."""
    if len(avcc) < 4 or avcc[0] != 1:
        raise MediaError(f"avcC: not an AVC configuration record ({avcc[:4].hex() or 'empty'})")
    return f"{fourcc}.{avcc[1]:02x}{avcc[2]:02x}{avcc[3]:02x}"


def hevc_codec(fourcc: str, hvcc: bytes) -> str:
    """'hvc1.<space><profile>.<compat>.<tier><level>[.<constraint bytes>]' from an
    HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 E.3): profile space as '', A, B or C before the
    profile_idc; the 32 compatibility flags bit-reversed, in hex without leading zeros; tier L or H
    and level_idc in decimal; the 6 constraint bytes in hex, trailing zero bytes dropped."""
    if len(hvcc) < 13 or hvcc[0] != 1:
        raise MediaError(f"hvcC: not an HEVC configuration record ({len(hvcc)} bytes, version {hvcc[:1].hex() or '-'})")
    space, tier, profile = hvcc[1] >> 6, (hvcc[1] >> 5) & 1, hvcc[1] & 0x1F
    (compat,) = struct.unpack_from(">I", hvcc, 2)
    reversed_compat = int(f"{compat:032b}"[::-1], 2)
    constraints = bytes(hvcc[6:12]).rstrip(b"\0")
    parts = [fourcc, f"{('', 'A', 'B', 'C')[space]}{profile}", f"{reversed_compat:X}", f"{'LH'[tier]}{hvcc[12]}"]
    return ".".join(parts + [f"{byte:X}" for byte in constraints])


def descriptors(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(tag, payload start, payload end) of the MPEG-4 descriptors in data[start:end] (ISO/IEC 14496-1
    8.3.3: a tag byte, then a size in 1 to 4 bytes of 7 bits each)."""
    while start < end:
        tag, start, length = data[start], start + 1, 0
        for _ in range(4):
            if start >= end:
                raise MediaError(f"esds: descriptor {tag:#04x} cut short")
            byte, start = data[start], start + 1
            length = (length << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        if start + length > end:
            raise MediaError(f"esds: descriptor {tag:#04x} declares {length} bytes, {end - start} present")
        yield tag, start, start + length
        start += length


def es_decoder_config(esds: bytes) -> tuple[int, bytes | None]:
    """(objectTypeIndication, DecoderSpecificInfo or None) from an esds box's payload (after its
    version and flags): ES_Descriptor (0x03) > DecoderConfigDescriptor (0x04) > DecSpecificInfo (0x05)."""
    for tag, start, end in descriptors(esds, 0, len(esds)):
        if tag != 0x03:
            continue
        if end - start < 3:
            raise MediaError("esds: ES_Descriptor too short")
        flags, offset = esds[start + 2], start + 3
        if flags & 0x80:  # streamDependenceFlag: dependsOn_ES_ID
            offset += 2
        if flags & 0x40:  # URL_Flag: URLlength, URLstring
            offset += 1 + (esds[offset] if offset < end else 0)
        if flags & 0x20:  # OCRstreamFlag: OCR_ES_Id
            offset += 2
        for inner, body, body_end in descriptors(esds, min(offset, end), end):
            if inner != 0x04:
                continue
            if body_end - body < 13:
                raise MediaError("esds: DecoderConfigDescriptor too short")
            specific = next((esds[s:e] for t, s, e in descriptors(esds, body + 13, body_end) if t == 0x05), None)
            return esds[body], specific
        raise MediaError("esds: no DecoderConfigDescriptor")
    raise MediaError("esds: no ES_Descriptor")


def aac_config(config: bytes) -> tuple[int, int | None, int | None]:
    """(audioObjectType, sampling rate, channels) from an AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1):
    the object type in 5 bits (31: 32 plus 6 more), the rate as a 4-bit index (15: 24 bits of Hz), the
    channel configuration in 4 bits (0: a program config element, channels None). Explicit HE-AAC
    (object types 5 and 29) gives the output rate next; parametric stereo (29) always plays stereo."""
    bits, total, taken = int.from_bytes(config[:8], "big"), 8 * len(config[:8]), 0

    def take(count: int) -> int:
        nonlocal taken
        if taken + count > total:
            raise MediaError(f"esds: AudioSpecificConfig cut short ({len(config)} bytes)")
        taken += count
        return (bits >> (total - taken)) & ((1 << count) - 1)

    def object_type() -> int:
        aot = take(5)
        return 32 + take(6) if aot == 31 else aot

    def rate() -> int | None:
        index = take(4)
        return take(24) if index == 15 else AAC_RATES[index] if index < len(AAC_RATES) else None

    aot, sampling, channels = object_type(), rate(), AAC_CHANNELS.get(take(4))
    if aot in (5, 29):
        sampling = rate()
    return aot, sampling, 2 if aot == 29 else channels


def mp4a_audio(esds: bytes) -> dict:
    """Track fields of MPEG-4 audio: codec 'mp4a.40.<audio object type>' (mp4a.40.2 is AAC-LC), sample
    rate and channels from its AudioSpecificConfig (the sample entry's are templates: ffmpeg writes 2
    channels for mono AAC); 'mp4a.<oti hex>' for the other object types; codec None for MPEG-4 audio
    without an AudioSpecificConfig."""
    oti, specific = es_decoder_config(esds)
    if oti != 0x40:
        return {"codec": f"mp4a.{oti:02x}"}
    if specific is None:
        return {"codec": None}
    aot, sampling, channels = aac_config(specific)
    found = {"codec": f"mp4a.40.{aot}", "sample_rate": sampling, "channels": channels}
    return {key: value for key, value in found.items() if value is not None}


# ---------------------------------------------------------------------------------------------------
# Init section


@dataclass(frozen=True)
class Track:
    """One trak of an init section, with what a multivariant playlist needs to know about it."""

    track_id: int
    handler: str  # 'vide', 'soun', ...
    timescale: int  # units per second of its timestamps (mdhd)
    sample_entry: str  # 'avc1', 'avc3', 'hvc1', 'hev1', 'mp4a', ...
    codec: str | None  # RFC 6381 codec string; None when this module cannot name the format
    width: int | None = None  # video: coded size from the visual sample entry
    height: int | None = None
    sample_rate: int | None = None  # audio: from the AudioSpecificConfig for AAC, else the sample entry
    channels: int | None = None
    default_sample_duration: int | None = None  # from mvex/trex, None without one
    default_sample_size: int | None = None


@dataclass(frozen=True)
class InitInfo:
    tracks: tuple[Track, ...]

    def track(self, track_id: int) -> Track | None:
        return next((t for t in self.tracks if t.track_id == track_id), None)

    @property
    def video(self) -> Track | None:
        """The first video track (a camera has one)."""
        return next((t for t in self.tracks if t.handler == "vide"), None)

    @property
    def audio(self) -> Track | None:
        return next((t for t in self.tracks if t.handler == "soun"), None)


def track_defaults(data: bytes, moov: Box) -> dict[int, tuple[int, int]]:
    """{track_ID: (default_sample_duration, default_sample_size)} from moov/mvex/trex boxes."""
    mvex = child(data, moov, "mvex")
    defaults = {}
    for trex in children(data, mvex, "trex") if mvex else []:
        track_id, _, duration, size = fields(data, trex, 4, ">IIII", "mvex/trex")
        defaults[track_id] = (duration, size)
    return defaults


def read_sample_entry(data: bytes, entry: Box, handler: str, where: str) -> dict:
    """Codec string, size or audio format from a sample entry (stsd's first), as Track fields."""
    fourcc = entry.kind
    if entry.kind in ("avc1", "avc3", "hvc1", "hev1") or handler == "vide":
        width, height = fields(data, entry, 24, ">HH", where)
        inside = Box("", entry.start, entry.body + VISUAL_ENTRY_SIZE, entry.end, entry.size, False)
        found = {"width": width, "height": height, "codec": None}
        if fourcc in ("avc1", "avc3") and (avcc := child(data, inside, "avcC")):
            found["codec"] = avc_codec(fourcc, data[avcc.body : avcc.end])
        elif fourcc in ("hvc1", "hev1") and (hvcc := child(data, inside, "hvcC")):
            found["codec"] = hevc_codec(fourcc, data[hvcc.body : hvcc.end])
        return found
    if handler == "soun":
        (version,) = fields(data, entry, 8, ">H", where)
        channels, _, _, _, rate = fields(data, entry, 16, ">HHHHI", where)
        rate >>= 16  # 16.16 fixed point
        skip = AUDIO_ENTRY_SIZE + AUDIO_ENTRY_EXTRA.get(version, 0)
        if version == 2:  # QuickTime sound v2: the real rate (float64) and channel count follow
            rate_v2, channels = fields(data, entry, 32, ">dI", where)
            if not 0 < rate_v2 < 1 << 32:  # also false for NaN
                raise MediaError(f"{where}: sample rate {rate_v2!r}")
            rate = int(rate_v2)
        inside = Box("", entry.start, min(entry.body + skip, entry.end), entry.end, entry.size, False)
        found = {"sample_rate": rate, "channels": channels, "codec": FOURCC_CODECS.get(fourcc)}
        if fourcc == "mp4a" and (esds := child(data, inside, "esds")):
            full_box(data, esds, f"{where}/esds")
            found.update(mp4a_audio(data[esds.body + 4 : esds.end]))
        return found
    return {"codec": FOURCC_CODECS.get(fourcc)}


def read_trak(data: bytes, trak: Box, defaults: dict[int, tuple[int, int]]) -> Track:
    tkhd = need(data, trak, "tkhd", "trak")
    version, _ = full_box(data, tkhd, "trak/tkhd")
    (track_id,) = fields(data, tkhd, 20 if version == 1 else 12, ">I", "trak/tkhd")
    where = f"track {track_id}"
    mdhd = need(data, trak, "mdia/mdhd", where)
    version, _ = full_box(data, mdhd, f"{where}: mdhd")
    (timescale,) = fields(data, mdhd, 20 if version == 1 else 12, ">I", f"{where}: mdhd")
    if not timescale:
        raise MediaError(f"{where}: mdhd timescale is 0")
    (handler,) = fields(data, need(data, trak, "mdia/hdlr", where), 8, ">4s", f"{where}: hdlr")
    handler = handler.decode("latin-1")
    stsd = need(data, trak, "mdia/minf/stbl/stsd", where)
    _, count = fields(data, stsd, 0, ">II", f"{where}: stsd")
    entries = boxes(data, stsd.body + 8, stsd.end)
    if not count or not entries or entries[0].truncated:
        raise MediaError(f"{where}: stsd has no readable sample entry")
    entry = entries[0]
    found = read_sample_entry(data, entry, handler, f"{where}: {entry.kind}")
    duration, size = defaults.get(track_id, (None, None))
    return Track(track_id, handler, timescale, entry.kind, default_sample_duration=duration, default_sample_size=size, **found)


def read_init(data: bytes) -> InitInfo:
    """Every track of an init section (ftyp + moov, as ffmpeg's init.mp4): handler, timescale, sample
    entry, RFC 6381 codec string, video size, audio rate and channels, trex defaults.
    MediaError when moov is missing, cut short or lacks what every track must have."""
    moov = top_level(data, "moov", "init section")[0]
    traks = children(data, moov, "trak")
    if not traks:
        raise MediaError("init section: moov has no trak box")
    defaults = track_defaults(data, moov)
    return InitInfo(tuple(read_trak(data, trak, defaults) for trak in traks))


# ---------------------------------------------------------------------------------------------------
# Media segments


@dataclass(frozen=True)
class Fragment:
    """One track's samples in a media segment (all its trafs and truns summed)."""

    track_id: int
    handler: str
    timescale: int
    samples: int
    duration: int  # in timescale units: the sum of the sample durations
    decode_time: int | None  # tfdt baseMediaDecodeTime of its first traf, None without tfdt

    @property
    def seconds(self) -> float:
        return self.duration / self.timescale

    @property
    def start(self) -> float | None:
        """First decode time, in seconds."""
        return None if self.decode_time is None else self.decode_time / self.timescale


@dataclass(frozen=True)
class SegmentInfo:
    tracks: tuple[Fragment, ...]  # in the init section's track order
    size: int  # bytes given to read_segment (the whole file, or its head)
    truncated: bool  # the bytes end inside a box: only the moofs before that point are counted

    @property
    def video(self) -> Fragment | None:
        return next((f for f in self.tracks if f.handler == "vide"), None)

    @property
    def audio(self) -> Fragment | None:
        return next((f for f in self.tracks if f.handler == "soun"), None)

    @property
    def duration(self) -> float:
        """Seconds: the video track's (ffmpeg cuts segments on video keyframes), else the longest track's."""
        if self.video:
            return self.video.seconds
        return max((f.seconds for f in self.tracks), default=0.0)

    @property
    def frame_rate(self) -> float | None:
        """Video samples per second of video duration; None without video or duration."""
        video = self.video
        return video.samples / video.seconds if video and video.duration else None


def read_tfhd(data: bytes, tfhd: Box) -> tuple[int, int | None]:
    """(track_ID, default_sample_duration or None) of a track fragment header."""
    _, flags = full_box(data, tfhd, "traf/tfhd")
    (track_id,) = fields(data, tfhd, 4, ">I", "traf/tfhd")
    if not flags & TFHD_DEFAULT_SAMPLE_DURATION:
        return track_id, None
    offset = 8 + (8 if flags & TFHD_BASE_DATA_OFFSET else 0) + (4 if flags & TFHD_SAMPLE_DESCRIPTION_INDEX else 0)
    return track_id, fields(data, tfhd, offset, ">I", "traf/tfhd")[0]


def read_trun(data: bytes, trun: Box, default_duration: int | None, where: str) -> tuple[int, int]:
    """(sample count, summed duration) of a track run; per-sample durations win over the default."""
    _, flags = full_box(data, trun, f"{where}: trun")
    (count,) = fields(data, trun, 4, ">I", f"{where}: trun")
    offset = 8 + (4 if flags & TRUN_DATA_OFFSET else 0) + (4 if flags & TRUN_FIRST_SAMPLE_FLAGS else 0)
    record = 4 * (flags & TRUN_SAMPLE_FIELDS).bit_count()
    if trun.body + offset + count * record > trun.end:
        raise MediaError(f"{where}: trun declares {count} samples, its {trun.length} bytes hold fewer")
    if flags & TRUN_SAMPLE_DURATION:
        base = trun.body + offset
        return count, sum(struct.unpack_from(">I", data, base + i * record)[0] for i in range(count))
    if default_duration is None:
        raise MediaError(f"{where}: no sample durations in trun, tfhd or trex")
    return count, count * default_duration


def read_segment(data: bytes, init: InitInfo) -> SegmentInfo:
    """Per track of the init section: samples, summed duration and first decode time, from every moof
    (traf: tfhd, tfdt, trun) in the segment. Durations come from trun, else tfhd's default, else trex's.
    The bytes may be only the head of the file: moofs come first, and mdat need not be complete.
    MediaError when there is no complete moof, or none describes a track of this init section."""
    moofs = top_level(data, "moof", "media segment")
    truncated = boxes(data)[-1].truncated
    totals: dict[int, list] = {}  # track_id: [samples, duration, decode_time]
    for moof in moofs:
        for traf in children(data, moof, "traf"):
            track_id, tfhd_duration = read_tfhd(data, need(data, traf, "tfhd", "traf"))
            track = init.track(track_id)
            if track is None:
                continue
            where = f"track {track_id}"
            total = totals.setdefault(track_id, [0, 0, None])
            tfdt = child(data, traf, "tfdt")
            if tfdt and total[2] is None:
                version, _ = full_box(data, tfdt, f"track {track_id}: tfdt")
                total[2] = fields(data, tfdt, 4, ">Q" if version == 1 else ">I", f"track {track_id}: tfdt")[0]
            default = tfhd_duration if tfhd_duration is not None else track.default_sample_duration
            for trun in children(data, traf, "trun"):
                count, duration = read_trun(data, trun, default, where)
                total[0] += count
                total[1] += duration
    if not totals:
        known = ", ".join(str(t.track_id) for t in init.tracks)
        raise MediaError(f"media segment: no track fragment for the init section's tracks ({known})")
    fragments = tuple(
        Fragment(t.track_id, t.handler, t.timescale, *totals[t.track_id]) for t in init.tracks if t.track_id in totals
    )  # fmt: skip
    return SegmentInfo(fragments, len(data), truncated)


# ---------------------------------------------------------------------------------------------------
# Multivariant playlist


def nominal_frame_rate(measured: float) -> float:
    """The common frame rate (1 to 120 per second, and the NTSC n*1000/1001) nearest a measured one when
    within 0.5 % of it, else the measured rate: camera clocks and fragment ends jitter by milliseconds."""
    nearest = min(COMMON_FRAME_RATES, key=lambda rate: abs(rate - measured))
    return nearest if abs(nearest - measured) <= FRAME_RATE_SNAP * nearest else measured


def peak_bit_rate(timed: list[tuple[float, int]], target_duration: int) -> int:
    """RFC 8216 4.3.4.2: the largest bit rate of any contiguous run of segments whose total duration is
    between 0.5 and 1.5 times the target duration; the largest single segment's when no run is."""
    peak = 0.0
    for first in range(len(timed)):
        seconds = bits = 0.0
        for duration, size in timed[first:]:
            seconds, bits = seconds + duration, bits + 8 * size
            if seconds > 1.5 * target_duration:
                break
            if seconds >= 0.5 * target_duration:
                peak = max(peak, bits / seconds)
    if not peak:
        peak = max(8 * size / duration for duration, size in timed)
    return math.ceil(peak)


def variant_stream_inf(init: InitInfo, segments: Sequence[tuple[SegmentInfo, int]], target_duration: int | None = None) -> dict:
    """EXT-X-STREAM-INF attributes of one camera's stream, from its init section and recent segments
    (in playlist order, each with its file size in bytes):
    BANDWIDTH: peak segment bit rate (RFC 8216 4.3.4.2, target duration default: the longest segment
        rounded), AVERAGE-BANDWIDTH: all bits over all seconds, both in bit/s rounded up;
    CODECS: video then audio RFC 6381 strings, left out when a track's codec has no known name;
    RESOLUTION: the video sample entry's WxH; FRAME-RATE: video samples over video seconds across the
        segments, snapped to a common rate (nominal_frame_rate), 3 decimals.
    Values are ints or the exact text to write (quoting is the playlist's job).
    MediaError when no segment has a duration."""
    timed = [(info.duration, size) for info, size in segments if info.duration > 0]
    if not timed:
        raise MediaError("no segment with a duration to measure the bit rate over")
    if target_duration is None:
        target_duration = max(1, round(max(duration for duration, _ in timed)))
    attributes: dict = {
        "BANDWIDTH": peak_bit_rate(timed, target_duration),
        "AVERAGE-BANDWIDTH": math.ceil(8 * sum(size for _, size in timed) / sum(duration for duration, _ in timed)),
    }
    media = [t for t in init.tracks if t.handler == "vide"] + [t for t in init.tracks if t.handler == "soun"]
    codecs = list(dict.fromkeys(t.codec for t in media))
    if media and None not in codecs:
        attributes["CODECS"] = ",".join(codecs)
    video = init.video
    if video and video.width and video.height:
        attributes["RESOLUTION"] = f"{video.width}x{video.height}"
    frames = [info.video for info, _ in segments if info.video]
    seconds = sum(f.seconds for f in frames)
    if video and seconds > 0:
        attributes["FRAME-RATE"] = f"{nominal_frame_rate(sum(f.samples for f in frames) / seconds):.3f}"
    return attributes


def attribute_text(name: str, value) -> str:
    """NAME=value for an attribute list: quoted-strings quoted, the others as they are."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"{name}: {value!r} is not an attribute value")
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    if name in QUOTED_ATTRIBUTES and not (name == "CLOSED-CAPTIONS" and text == "NONE"):
        if any(c in text for c in '"\r\n'):
            raise ValueError(f"{name}: {text!r} cannot be a quoted-string")
        return f'{name}="{text}"'
    if not text or any(c in text for c in '",\r\n \t'):
        raise ValueError(f"{name}: {text!r} must be quoted or is not a valid value")
    return f"{name}={text}"


def multivariant_playlist(variants: Sequence[tuple[str, dict]], independent_segments: bool = True) -> str:
    """A multivariant playlist: #EXTM3U, #EXT-X-INDEPENDENT-SEGMENTS (every media segment starts with
    a keyframe: ffmpeg's HLS muxer cuts on them), then each variant's #EXT-X-STREAM-INF line (its
    attributes in the order given) and URI, in the order given. Clients such as AVPlayer start with
    the first variant listed, so the caller lists the camera's main stream first; the order is not
    taken from the measured BANDWIDTH, which a sub stream can top for a while (a main stream of a
    still scene at a variable bit rate, the first segments after a start).
    No EXT-X-VERSION: nothing here needs more than protocol version 1 (RFC 8216 section 7; version 6
    is for EXT-X-MAP inside the media playlists, which ffmpeg writes with their own version).
    ValueError when a variant has no BANDWIDTH or a value or URI cannot be written as it is; TypeError
    for a value that is not an int, float (written with 3 decimals) or str, or a BANDWIDTH not an int."""
    lines = ["#EXTM3U"]
    if independent_segments:
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    for uri, attributes in variants:
        if "BANDWIDTH" not in attributes:
            raise ValueError(f"{uri}: BANDWIDTH is required")
        if not isinstance(attributes["BANDWIDTH"], int) or isinstance(attributes["BANDWIDTH"], bool):
            raise TypeError(f"{uri}: BANDWIDTH must be an integer")
        if not uri or uri.startswith("#") or any(c in uri for c in "\r\n"):
            raise ValueError(f"{uri!r} is not a playlist URI line")
    for uri, attributes in variants:
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attribute_text(n, v) for n, v in attributes.items()))
        lines.append(uri)
    return "\n".join(lines) + "\n"
