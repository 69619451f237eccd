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
