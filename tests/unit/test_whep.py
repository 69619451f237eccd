"""WHEP's rules in camgate/gateway/whep.py without an engine: the manifest's Bearer tokens, what an
offer must hold (and the reason a player gets when it does not), trickle fragments, the quotas."""

import time

import pytest

from camgate.gateway import whep

SECRET = "turn secret"
# Each m-line's ICE and DTLS attributes (webrtcbin refuses an offer without them).
FINGERPRINT = ":".join(["AB"] * 32)
TRANSPORT = f"a=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuvwx\na=fingerprint:sha-256 {FINGERPRINT}\na=setup:actpass\n"
# What Chromium offers for a recvonly video + audio WHEP view (trimmed to what matters).
CHROME_OFFER = f"""v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
m=video 9 UDP/TLS/RTP/SAVPF 96 102 103 108 109
c=IN IP4 0.0.0.0
{TRANSPORT}a=mid:0
a=recvonly
a=rtcp-mux
a=rtpmap:96 VP8/90000
a=rtpmap:102 H264/90000
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
a=rtpmap:103 H264/90000
a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f
a=rtpmap:108 H264/90000
a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
a=rtpmap:109 H264/90000
a=fmtp:109 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032
m=audio 9 UDP/TLS/RTP/SAVPF 111 8 0
c=IN IP4 0.0.0.0
{TRANSPORT}a=mid:1
a=recvonly
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
"""


def refusal(text: str) -> whep.Refused:
    with pytest.raises(whep.Refused) as raised:
        whep.parse_offer(text)
    return raised.value


def test_a_token_names_its_user_until_it_expires():
    expires = int(time.time()) + 600
    token = whep.sign_token(SECRET, "alice", expires)
    assert whep.user_of_token(SECRET, token) == "alice"
    assert token.startswith(f"{expires}.") and token.endswith(".alice")
    # Bearer tokens are b64token (RFC 6750): no padding, no characters a header would need quoted.
    assert all(c.isalnum() or c in "-._~+/" for c in token)


@pytest.mark.parametrize(("token", "reason"), [
    ("garbage", "not a camgate WebRTC token"),
    (f"{int(time.time()) + 600}.AAAA.alice", "signature does not match"),
    (whep.sign_token("another secret", "alice", int(time.time()) + 600), "signature does not match"),
    (whep.sign_token(SECRET, "alice", int(time.time()) - 1), "has expired"),
])  # fmt: skip
def test_a_forged_altered_or_expired_token_is_refused_with_401(token, reason):
    with pytest.raises(whep.Refused) as raised:
        whep.user_of_token(SECRET, token)
    assert raised.value.status == 401 and reason in raised.value.reason


def test_a_token_for_one_user_does_not_become_anothers_by_editing_the_name():
    token = whep.sign_token(SECRET, "bob", int(time.time()) + 600)
    with pytest.raises(whep.Refused):
        whep.user_of_token(SECRET, token.removesuffix("bob") + "alice")


def test_the_token_is_never_the_turn_credential_of_the_same_secret():
    expires = int(time.time()) + 600
    username, credential = whep.turn_credentials(SECRET, "alice", expires)
    assert username == f"{expires}:alice" and credential not in whep.sign_token(SECRET, "alice", expires)


def test_the_offer_gives_the_h264_payload_the_engine_sends_and_its_audio_payloads():
    offer = whep.parse_offer(CHROME_OFFER)
    video, audio = offer.video(), offer.audio()
    assert video.h264_payload() == 108  # packetization mode 1, constrained baseline first
    assert (audio.audio_payload("opus"), audio.audio_payload("pcma"), audio.audio_payload("pcmu")) == (111, 8, 0)
    assert [m.mid for m in offer.media] == ["0", "1"]


def test_an_offer_with_only_high_profile_h264_still_plays():
    high_only = CHROME_OFFER.replace("42001f", "64001f").replace("42e01f", "640032")
    assert whep.parse_offer(high_only).video().h264_payload() == 102


@pytest.mark.parametrize(("text", "status", "reason"), [
    ("", 400, "not an SDP offer"),
    ("hello world", 400, "not an SDP offer"),
    ("v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\n", 400, "no media"),
    ("v=0\no=- 1 1 IN IP4 0.0.0.0\nthis is not sdp\n", 400, "malformed SDP line"),
    (CHROME_OFFER.split("m=video")[0] + "m=audio" + CHROME_OFFER.split("m=audio")[1], 422, "receives no video"),
    (CHROME_OFFER.replace("H264", "AV1"), 422, "no H.264"),
    (CHROME_OFFER.replace("a=mid:0\na=recvonly", "a=mid:0\na=sendonly"), 422, "receives no video"),
])  # fmt: skip
def test_offers_the_engine_cannot_serve_are_refused_with_the_reason(text, status, reason):
    refused = refusal(text)
    assert refused.status == status and reason in refused.reason


def test_trickle_fragments_give_candidates_by_mid_and_their_ufrag():
    fragment = "a=ice-ufrag:abcd\na=ice-pwd:x\nm=audio 9 RTP/AVP 0\na=mid:0\na=candidate:1 1 udp 2113937151 192.0.2.7 50000 typ host\na=end-of-candidates\n"
    candidates, ufrag = whep.trickle_candidates(fragment)
    assert candidates == [("0", "candidate:1 1 udp 2113937151 192.0.2.7 50000 typ host")] and ufrag == "abcd"


def rules(**config) -> whep.Rules:
    base = {"cameras": {"front": {}, "yard": {}}, "users": {"alice": ["front", "yard"], "bob": ["yard"]},
            "max_viewers": 3, "max_viewers_per_user": 2, "ice_urls": ["turn:cams.example.com:3478?transport=udp"], "ttl": 600}  # fmt: skip
    return whep.Rules({**base, **config}, SECRET)


def test_users_come_from_nginx_or_a_bearer_token_and_nothing_else():
    r = rules()
    assert r.user("alice", "") == "alice"
    assert r.user("", "Bearer " + whep.sign_token(SECRET, "bob", int(time.time()) + 60)) == "bob"
    for authorization in ("", "Basic YWxpY2U6eA==", "Bearer "):
        with pytest.raises(whep.Refused) as raised:
            r.user("", authorization)
        assert raised.value.status == 401 and raised.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_user_watches_only_their_cameras_within_both_quotas():
    r = rules()
    r.may_watch("bob", "yard")
    with pytest.raises(whep.Refused) as other:
        r.may_watch("bob", "front")
    with pytest.raises(whep.Refused) as unknown:
        r.may_watch("alice", "ghost")
    assert (other.value.status, unknown.value.status) == (403, 404)
    r.room_for("alice", ["alice"])
    with pytest.raises(whep.Refused) as mine:
        r.room_for("alice", ["alice", "alice"])
    with pytest.raises(whep.Refused) as everyone:
        r.room_for("bob", ["alice", "alice", "carol"])
    assert mine.value.status == everyone.value.status == 429 and mine.value.retry_after


def test_ice_servers_are_announced_as_whep_link_headers_with_turn_credentials():
    (link,) = rules().ice_links("alice", expires=1764072000)
    username, credential = whep.turn_credentials(SECRET, "alice", 1764072000)
    assert link == (f'<turn:cams.example.com:3478?transport=udp>; rel="ice-server"; username="{username}"; '
                    f'credential="{credential}"; credential-type="password"')  # fmt: skip
