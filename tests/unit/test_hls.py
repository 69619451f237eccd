from tests.players.hls import PlaylistError, parse_playlist

import pytest

LIVE = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:41
#EXTINF:2.000000,
seg-41.ts
#EXT-X-DISCONTINUITY
#EXTINF:1.960000,
seg-42.ts
"""


def test_live_playlist_is_parsed():
    playlist = parse_playlist(LIVE)
    assert playlist.media_sequence == 41 and playlist.target_duration == 2
    assert [s.uri for s in playlist.segments] == ["seg-41.ts", "seg-42.ts"]
    assert [s.discontinuity for s in playlist.segments] == [False, True]
    assert not playlist.ended


def test_non_playlist_is_rejected():
    with pytest.raises(PlaylistError):
        parse_playlist("<html>")


def test_the_rfc8216_check_finds_what_players_trip_on():
    from tests.players.hls import rfc8216_problems

    good = '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI="init.mp4"\n' + "".join(f"#EXTINF:2.0,\nseg-{n}.m4s\n" for n in range(4))
    assert rfc8216_problems(good) == []
    collapsed = "#EXTM3U\n#EXT-X-TARGETDURATION:0\n" + "".join(f"#EXTINF:0.001111,\nseg-{n}.m4s\n" for n in range(6))
    found = rfc8216_problems(collapsed)
    assert "EXT-X-TARGETDURATION is 0" in found and "fMP4 segments without EXT-X-MAP" in found
    assert any("under 3 target durations" in p for p in rfc8216_problems('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na.ts\n'))
    master = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=25.000\nstream.m3u8\n'
    assert rfc8216_problems(master) == []
    vod = '#EXTM3U\n#EXT-X-VERSION:{v}\n#EXT-X-TARGETDURATION:10\n#EXT-X-MAP:URI="a.mp4",BYTERANGE="800@0"\n#EXTINF:10.0,\n#EXT-X-BYTERANGE:9000@800\na.mp4\n#EXT-X-ENDLIST\n'
    assert rfc8216_problems(vod.format(v=6), live=False) == []
    assert rfc8216_problems(vod.format(v=3), live=False) == [
        "EXT-X-MAP needs EXT-X-VERSION 6 or more, not 3", "EXT-X-BYTERANGE needs EXT-X-VERSION 4 or more, not 3"]
    assert rfc8216_problems('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=9\nstream.m3u8\n') == [
        "stream.m3u8: no CODECS", "stream.m3u8: no RESOLUTION", "stream.m3u8: no FRAME-RATE"]


def test_an_independent_parser_reads_the_playlists_as_camgates_does_and_finds_the_same_faults():
    from tests.players.hls import independent_problems

    good = '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:17\n#EXT-X-MAP:URI="init.mp4"\n' + "".join(
        f"#EXTINF:2.0,\nseg-{n}.m4s\n" + ("#EXT-X-DISCONTINUITY\n" if n == 1 else "") for n in range(4))
    assert independent_problems(good) == []
    collapsed = "#EXTM3U\n#EXT-X-TARGETDURATION:0\n" + "".join(f"#EXTINF:0.001111,\nseg-{n}.m4s\n" for n in range(6))
    found = independent_problems(collapsed)
    assert "m3u8: EXT-X-TARGETDURATION is 0" in found and "m3u8: fMP4 segments without EXT-X-MAP" in found
    long_segment = good.replace("#EXTINF:2.0,\nseg-3", "#EXTINF:2.6,\nseg-3")
    assert independent_problems(long_segment) == ["m3u8: seg-3.m4s: EXTINF 2.6 rounds over 2"]
    old_version = good.replace("#EXT-X-VERSION:7", "#EXT-X-VERSION:3")
    assert independent_problems(old_version) == ["m3u8: EXT-X-MAP with EXT-X-VERSION 3"]
    master = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=25.000\nstream.m3u8\n'
    assert independent_problems(master) == []
    assert independent_problems('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=9\nstream.m3u8\n') == [
        "m3u8: stream.m3u8: no CODECS", "m3u8: stream.m3u8: no RESOLUTION", "m3u8: stream.m3u8: no FRAME-RATE"]
