"""camgate-webrtc: live view over WebRTC for the app and any WHEP player (runs on the gateway).

The engine is GStreamer's webrtcbin (the distribution's gstreamer1.0-plugins-bad and
gstreamer1.0-nice, driven through python3-gi): ICE (libnice), DTLS and SRTP are its own. Each camera's
unit (ffmpeg, the one RTSP pull) sends the camera's H.264, copied, and its audio as RTP to loopback
ports (camgate.webrtc.rtp_ports); this service receives each camera once (a Feed) and hands the same
frames to every viewer's PeerConnection, payloaded with the payload types of that viewer's offer.
WHEP, who may watch and the quotas are camgate_whep (camgate/gateway/whep.py). Run as
camgate-webrtc.service on loopback only, behind nginx, with the JSON config the deploy writes
(/etc/camgate/webrtc.json) and the TURN secret in the environment (CAMGATE_TURN_SECRET):

    {"listen": ["127.0.0.1", 8086], "public_path": "/api/webrtc", "max_viewers": 100,
     "max_viewers_per_user": 16, "media_timeout": 10, "connect_timeout": 30, "viewer_timeout": 10,
     "ice_ports": [40000, 40999], "ice_urls": ["turn:cams.example.com:3478?transport=udp"], "ttl": 3600,
     "cameras": {"front": {"video_port": 30000, "audio": {"port": 30002, "codec": "opus"}}},
     "users": {"alice": ["front"]}}

A viewer ends on DELETE, when it never connects within connect_timeout s, when ICE fails, and when
its RTCP receiver reports stop for viewer_timeout s: a phone that vanished (app killed, network
lost) sends nothing more, and its media stops within that bound. GET /status (loopback: nginx never
maps it) gives viewers per camera and the age of each camera's media: what camgate-health judges.

    camgate-webrtc CONFIG.json
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import signal
import sys
import threading
import time
from http.server import ThreadingHTTPServer

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, GObject, Gst, GstSdp, GstWebRTC  # noqa: E402

try:
    from camgate.gateway import whep
except ImportError:  # on the gateway: camgate_whep.py beside this script
    import camgate_whep as whep  # type: ignore[no-redef]

TURN_SECRET_ENV = "CAMGATE_TURN_SECRET"
WATCH_EVERY = 1.0  # seconds between two looks at every viewer's liveness
GATHER_TIMEOUT = 5.0  # seconds to gather the engine's own ICE candidates before answering
# The engine's candidates are its host addresses (no STUN or TURN of its own: players reach it through
# TURN), all gathered at once; libnice only calls gathering complete 0.2 s later. Answer once none came
# for this long: a fifth of a second less before the first frame.
CANDIDATES_SETTLED = 0.03
# A joiner gets the frames since the last keyframe at once (up to this many: 10 s at 30 fps; a camera
# with keyframes further apart makes its joiners wait for the next one), each 1 ms apart before the
# live frame, so its player shows a picture without waiting for the camera's next keyframe.
GOP_FRAMES = 300
BURST_SPACING = Gst.MSECOND
CAPS_TIMEOUT = 3.0  # seconds for a new viewer's branches to carry the camera's first frame (and caps)
RTP_MTU = 1200  # bytes: room for SRTP and header extensions within a 1500-byte MTU
VIDEO_CAPS = "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
AUDIO = {  # codec -> (caps from the camera's unit, depayloader, payloader, clock rate, SDP encoding)
    "opus": ("application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111", "rtpopusdepay", "rtpopuspay", 48000, "OPUS"),
    "pcma": ("application/x-rtp,media=audio,clock-rate=8000,encoding-name=PCMA,payload=8", "rtppcmadepay", "rtppcmapay", 8000, "PCMA"),
    "pcmu": ("application/x-rtp,media=audio,clock-rate=8000,encoding-name=PCMU,payload=0", "rtppcmudepay", "rtppcmupay", 8000, "PCMU"),
}


def keep_ice_agent(webrtc: Gst.Element) -> Gst.Object:
    """webrtcbin's ICE object, safe to hold: GStreamer 1.22's getter hands PyGObject the only
    reference (refcount 1), which would free the agent under webrtcbin when the wrapper goes. Take
    the reference webrtcbin is owed; releases that get it right (refcount 2) are left alone."""
    ice = webrtc.get_property("ice-agent")
    if ice.__grefcount__ == 1:
        capsule = ctypes.pythonapi.PyCapsule_GetPointer
        capsule.restype, capsule.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        gobject = ctypes.CDLL("libgobject-2.0.so.0")
        gobject.g_object_ref.restype, gobject.g_object_ref.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
        gobject.g_object_ref(capsule(ice.__gpointer__, None))
    return ice


def unpaced(_webrtc, _bin, element: Gst.Element) -> None:
    """webrtcbin's clocksync in front of each sink paces its input by the clock, for sources that are
    not live; the cameras' RTP is, and each packet's wait cost more than a tenth of a viewer's CPU."""
    factory = element.get_factory()
    if factory is not None and factory.get_name() == "clocksync":
        element.set_property("sync", False)


def without_retransmission(rtpbin: Gst.Element) -> None:
    """No retransmission sender in a viewer's packet path: webrtcbin gives rtpbin one (rtprtxsend)
    for every session, though camgate answers no rtx payload type (no NACK), so it only forwards.
    Each element a packet crosses costs every viewer; this one was a sixth of a viewer's CPU."""
    signal = GObject.signal_lookup("request-aux-sender", type(rtpbin))
    handler = GObject.signal_handler_find(rtpbin, GObject.SignalMatchType.ID, signal, 0, None, None, None)
    if handler:
        GObject.signal_handler_block(rtpbin, handler)


def bypass_fec_encoder(webrtc: Gst.Element, child: Gst.Element) -> None:
    """webrtcbin puts an FEC encoder bin (rtpulpfecenc, rtpredenc) between each input and its RTP
    funnel, even when no FEC is negotiated (camgate answers none). Those encoders take a payloader's
    packet lists one packet at a time; past them, a frame's packets reach libnice as one list, sent
    by one sendmmsg (0.57 -> 0.43 % of a core per viewer, 50 viewers on loopback). So once webrtcbin
    has linked the bin on both sides, the input is linked straight to the funnel instead."""
    if isinstance(child, Gst.Bin) and any(e.get_factory() and e.get_factory().get_name() == "rtpulpfecenc" for e in child.children):
        for pad in child.sinkpads + child.srcpads:
            pad.connect("linked", link_past_fec_encoder)


def link_past_fec_encoder(pad: Gst.Pad, _peer: Gst.Pad) -> None:
    encoder = pad.get_parent_element()  # not held by the handler: a bin held by its own pad's handler would never be freed
    sink, src = encoder.get_static_pad("sink"), encoder.get_static_pad("src")
    upstream, downstream = sink.get_peer(), src.get_peer()
    if upstream is None or downstream is None:
        return  # webrtcbin links the other side next
    upstream.unlink(sink)
    src.unlink(downstream)
    upstream.link(downstream)


def wait_for(promise: Gst.Promise, what: str) -> Gst.Structure | None:
    if promise.wait() != Gst.PromiseResult.REPLIED:
        raise whep.Refused(500, f"the WebRTC engine did not {what}")
    reply = promise.get_reply()
    error = reply.get_value("error") if reply is not None and reply.has_field("error") else None
    if error is not None:
        raise whep.Refused(400, f"the WebRTC engine could not {what}: {error.message}")
    return reply


class Feed:
    """One camera's RTP from its unit, received once: H.264 access units (SPS/PPS before every
    keyframe) and its audio in tees that every viewer's branch hangs on. An appsink on the video tee
    holds the newest frames in C; the service takes them (keep_recent_frames, once a second and for each
    joiner) to keep the camera's last keyframe and the frames since, for joiners (Viewer.start_at_keyframe).
    No Python runs per frame: a probe on every frame of every camera was a third of the service's CPU
    with no viewer."""

    def __init__(self, camera: str, settings: dict):
        self.camera = camera
        self.settings = settings
        audio = settings.get("audio")
        launch = (
            f'udpsrc address=127.0.0.1 port={settings["video_port"]} caps="{VIDEO_CAPS}" ! rtph264depay '
            "! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au "
            "! tee name=video allow-not-linked=true "
            f"video. ! appsink name=recent sync=false async=false drop=true max-buffers={GOP_FRAMES} enable-last-sample=true"
        )
        if audio:
            caps, depay = AUDIO[audio["codec"]][:2]
            launch += f' udpsrc address=127.0.0.1 port={audio["port"]} caps="{caps}" ! {depay} ! tee name=audio allow-not-linked=true'
        self.pipeline = Gst.parse_launch(launch)
        self.pipeline.set_name(f"camera-{camera}")
        self.video = self.pipeline.get_by_name("video")
        self.audio = self.pipeline.get_by_name("audio")
        self.recent = self.pipeline.get_by_name("recent")
        self.gop: list[Gst.Buffer] = []  # the last keyframe and the frames after it; [] when too many
        self.lock = threading.Lock()
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)
        self.pipeline.set_state(Gst.State.PLAYING)

    def on_error(self, _bus, message) -> None:
        error, debug = message.parse_error()
        print(f"camgate-webrtc: camera {self.camera}: {error.message} ({debug})", file=sys.stderr, flush=True)

    def keep_recent_frames(self) -> list[Gst.Buffer]:
        """Take the frames the appsink gathered since the last look; keep (and return) the last
        keyframe and the frames after it. More than GOP_FRAMES since the last look, or between two
        keyframes, and the run has a gap that would not decode: joiners wait for the next keyframe."""
        with self.lock:
            fresh = []
            while (sample := self.recent.emit("try-pull-sample", 0)) is not None:
                fresh.append(sample.get_buffer())
            frames = fresh if len(fresh) >= GOP_FRAMES else self.gop + fresh  # full: the oldest were dropped
            keyframe = next((i for i in range(len(frames) - 1, -1, -1) if not frames[i].has_flags(Gst.BufferFlags.DELTA_UNIT)), None)
            self.gop = frames[keyframe:] if keyframe is not None and len(frames) - keyframe <= GOP_FRAMES else []
            return list(self.gop)

    def media_age_ms(self) -> int | None:
        """How long ago the newest frame arrived, None if none ever did."""
        sample = self.recent.get_property("last-sample")
        clock = self.pipeline.get_clock()
        newest = sample.get_buffer().pts if sample is not None else None
        if newest is None or newest == Gst.CLOCK_TIME_NONE or clock is None:
            return None
        running = clock.get_time() - self.pipeline.get_base_time()
        return max(0, (running - newest) // Gst.MSECOND)

    def stop(self) -> None:
        self.pipeline.set_state(Gst.State.NULL)


class Viewer:
    """One PeerConnection: a webrtcbin in the camera's pipeline, fed from its tees through
    payloaders that use the payload types of the player's offer."""

    def __init__(self, feed: Feed, user: str, offer: whep.Offer, config: dict, on_end):
        self.id = secrets.token_urlsafe(16)  # 22 characters: unguessable, as WHEP asks of session URLs
        self.feed, self.user, self.camera = feed, user, feed.camera
        self.config = config
        self.on_end = on_end
        self.created = time.monotonic()
        self.heard = None  # monotonic time of the player's last RTCP
        self.connected = False
        self.secure = False  # DTLS up: what the player is sent from now on reaches it
        self.ended = False
        self.remote_ufrag = None
        self.last_candidate: float | None = None  # monotonic time the engine gathered its last ICE candidate
        self.mids: dict[str, int] = {}
        self.branches: list[tuple[Gst.Element, Gst.Pad, Gst.Element]] = []  # (tee, tee pad, payloader)
        self.keyframe_probe: int | None = None  # start_at_keyframe on the video tee's pad, until it ran
        self.webrtc = Gst.ElementFactory.make("webrtcbin", f"viewer-{self.id}")
        self.webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        self.webrtc.connect("deep-element-added", unpaced)
        self.webrtc.connect("element-added", bypass_fec_encoder)
        ice = keep_ice_agent(self.webrtc)
        ice.set_property("ice-tcp", False)  # players that cannot use UDP come through coturn (TURN over TCP/TLS)
        low, high = config["ice_ports"]
        ice.set_property("min-rtp-port", low)
        ice.set_property("max-rtp-port", high)
        # Held to be disconnected when the viewer goes: a handler holds the viewer, which holds webrtcbin,
        # a cycle through C that Python's collector cannot see (each viewer left 6 threads and 24 fds).
        rtpbin = self.webrtc.get_by_name("rtpbin")
        without_retransmission(rtpbin)
        self.handlers = [
            (self.webrtc, self.webrtc.connect("notify::ice-connection-state", self.on_ice_state)),
            (self.webrtc, self.webrtc.connect("notify::connection-state", self.on_connection_state)),
            (rtpbin, rtpbin.connect("on-ssrc-active", self.on_rtcp)),
            (self.webrtc, self.webrtc.connect("on-ice-candidate", self.on_local_candidate)),
        ]
        feed.pipeline.add(self.webrtc)
        self.webrtc.sync_state_with_parent()
        try:
            self.answer = self.negotiate(offer)
        except BaseException:
            self.stop()
            raise

    def negotiate(self, offer: whep.Offer) -> str:
        video = offer.video()
        self.branch(self.feed.video, "rtph264pay", self.video_caps(video), video.h264_payload(),
                    {"config-interval": 0, "aggregate-mode": "zero-latency"})  # fmt: skip
        audio = offer.audio()
        codec = (self.feed.settings.get("audio") or {}).get("codec")
        payload = audio.audio_payload(codec) if audio and codec else None
        if payload is not None:
            _, _, payloader, rate, encoding = AUDIO[codec]
            caps = f"application/x-rtp,media=audio,encoding-name={encoding},clock-rate={rate},payload={payload}"
            self.branch(self.feed.audio, payloader, caps, payload, {})
        for media in offer.media:
            if media.mid is not None:
                self.mids[media.mid] = media.index
        self.wait_for_caps()
        _, message = GstSdp.SDPMessage.new_from_text(offer.sdp)
        self.remote_ufrag = message.get_media(0).get_attribute_val("ice-ufrag") or message.get_attribute_val("ice-ufrag")
        remote = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, message)
        promise = Gst.Promise.new()
        self.webrtc.emit("set-remote-description", remote, promise)
        wait_for(promise, "take the offer")
        # The answer is used inside the promise's callback, where webrtcbin's reply is alive: PyGObject
        # copies of it (or of its SDP) do not outlive the promise reliably.
        answered = threading.Event()
        refused: list[str] = []

        def use_answer(promise, _data):
            try:
                reply = promise.get_reply()
                answer = reply.get_value("answer") if reply is not None and reply.has_field("answer") else None
                if answer is None:
                    refused.append(str(reply.get_value("error").message) if reply is not None and reply.has_field("error") else "no answer")
                else:
                    self.webrtc.emit("set-local-description", answer, None)
            finally:
                answered.set()

        self.webrtc.emit("create-answer", None, Gst.Promise.new_with_change_func(use_answer, None))
        if not answered.wait(GATHER_TIMEOUT) or refused:
            raise whep.Refused(400, f"the WebRTC engine could not answer the offer: {refused[0] if refused else 'timed out'}")
        deadline = time.monotonic() + GATHER_TIMEOUT
        while not self.candidates_gathered() and time.monotonic() < deadline:
            time.sleep(0.005)
        local = self.webrtc.get_property("local-description")
        if local is None:
            raise whep.Refused(400, "the WebRTC engine could not use its answer to this offer")
        return local.sdp.as_text()

    def on_local_candidate(self, _webrtc, _mline, _candidate) -> None:
        self.last_candidate = time.monotonic()

    def candidates_gathered(self) -> bool:
        """Gathering complete, or candidates came and none since CANDIDATES_SETTLED (webrtcbin puts
        each in the local description as it comes)."""
        if self.webrtc.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            return True
        return self.last_candidate is not None and time.monotonic() - self.last_candidate >= CANDIDATES_SETTLED

    def wait_for_caps(self) -> None:
        """Negotiate only once the branches' caps reached webrtcbin (with the next frame): in GStreamer
        1.22 a sink pad whose caps arrive while the answer is being set is never connected to the
        transport, and its player gets no media (seen in one viewer of three)."""
        deadline = time.monotonic() + CAPS_TIMEOUT
        while not all(pad.has_current_caps() for pad in self.webrtc.sinkpads) and time.monotonic() < deadline:
            time.sleep(0.01)
        if not all(pad.has_current_caps() for pad in self.webrtc.sinkpads):
            raise whep.Refused(409, f"the camera sent no frame within {CAPS_TIMEOUT} s; play HLS meanwhile", retry_after=3)

    @staticmethod
    def video_caps(media: whep.Media) -> str:
        """The caps the video branch sends: the offer's H.264 payload type, no profile. The answer takes
        the offer's profile-level-id; naming it here would make rtph264pay refuse a camera's Main or
        High profile, which players decode all the same (what every camera relay sends)."""
        return (f"application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload={media.h264_payload()},"
                "packetization-mode=(string)1")  # fmt: skip

    def branch(self, tee: Gst.Element, payloader: str, caps: str, payload: int, options: dict) -> None:
        """tee -> payloader (the offer's payload type) -> webrtcbin, a transceiver that only sends.
        Frames flow at once: webrtcbin needs their caps to negotiate. It blocks them until its DTLS
        key is set, so until then (secure) they are dropped before webrtcbin; the player's first
        frames are then the camera's last keyframe and those since.
        No queue: every viewer of a camera is served in the camera's own streaming thread, which
        nothing else blocks (libnice's nicesink does not wait on the socket). A queue's thread per
        viewer cost a third of a viewer's CPU in wake-ups (0.75 -> 0.50 % of a core at 50 viewers)."""
        pipeline = self.feed.pipeline
        pay = Gst.ElementFactory.make(payloader)
        pay.set_property("pt", payload)
        pay.set_property("mtu", RTP_MTU)
        for name, value in options.items():
            pay.set_property(name, value)
        pipeline.add(pay)
        sink = self.webrtc.request_pad_simple("sink_%u")
        transceiver = sink.get_property("transceiver")
        transceiver.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        # The payloader takes its caps from these (webrtcbin answers its sink pad's caps query with them).
        transceiver.set_property("codec-preferences", Gst.Caps.from_string(caps))
        pay.get_static_pad("src").link(sink)
        pay.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, self.drop_until_secure)
        pay.sync_state_with_parent()
        tee_pad = tee.request_pad_simple("src_%u")
        if tee is self.feed.video:
            self.keyframe_probe = tee_pad.add_probe(Gst.PadProbeType.BUFFER, self.start_at_keyframe)
        tee_pad.link(pay.get_static_pad("sink"))
        self.branches.append((tee, tee_pad, pay))

    def add_candidates(self, candidates: list[tuple[str | None, str]]) -> None:
        webrtc = self.webrtc
        if webrtc is None:
            return  # ended meanwhile
        for mid, candidate in candidates:
            index = self.mids.get(mid, 0) if mid is not None else 0
            if ".local " in candidate:
                continue  # an mDNS name the gateway cannot resolve; the player's checks reveal its address
            webrtc.emit("add-ice-candidate", index, candidate)

    def on_ice_state(self, webrtc, _spec) -> None:
        state = webrtc.get_property("ice-connection-state")
        if state in (GstWebRTC.WebRTCICEConnectionState.CONNECTED, GstWebRTC.WebRTCICEConnectionState.COMPLETED):
            self.connected = True
            self.heard = self.heard or time.monotonic()
        elif state in (GstWebRTC.WebRTCICEConnectionState.FAILED, GstWebRTC.WebRTCICEConnectionState.CLOSED):
            self.on_end(self, "ICE failed")

    def on_connection_state(self, webrtc, _spec) -> None:
        if webrtc.get_property("connection-state") == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            self.secure = True

    def drop_until_secure(self, _pad: Gst.Pad, _info) -> Gst.PadProbeReturn:
        """Caps pass (events), frames only once DTLS is up: a frame that webrtcbin blocked would
        hold up the camera for every viewer, for ever if this one never connects."""
        return Gst.PadProbeReturn.REMOVE if self.secure else Gst.PadProbeReturn.DROP

    def start_at_keyframe(self, pad: Gst.Pad, info) -> Gst.PadProbeReturn:
        """Once the player can receive: unless the live frame is a keyframe, send first the camera's
        last keyframe and the frames since, 1 ms apart just before the live one, so that the player
        shows a picture now, not at the camera's next keyframe (up to its keyframe interval away)."""
        if not self.secure:
            return Gst.PadProbeReturn.OK
        live = info.get_buffer()
        if live.has_flags(Gst.BufferFlags.DELTA_UNIT):
            frames = [f for f in self.feed.keep_recent_frames() if f.pts < live.pts]
            target = pad.get_peer()
            for n, frame in enumerate(frames):
                copy = frame.copy()
                copy.pts = copy.dts = max(0, live.pts - (len(frames) - n) * BURST_SPACING)
                target.chain(copy)
        self.keyframe_probe = None
        return Gst.PadProbeReturn.REMOVE

    def on_rtcp(self, _rtpbin, _session, _ssrc) -> None:
        self.heard = time.monotonic()

    def gone(self, now: float) -> str | None:
        """Why this viewer is over, or None while it lives."""
        if self.heard is None:
            if now - self.created > self.config["connect_timeout"]:
                return f"never connected within {self.config['connect_timeout']} s"
            return None
        if now - self.heard > self.config["viewer_timeout"]:
            return f"no RTCP from the player for {self.config['viewer_timeout']} s (vanished)"
        return None

    def stop(self) -> None:
        """End the viewer from the main loop: stop calls come from threads that webrtcbin or the
        branches may be blocked in (a viewer ended from its own ICE callback)."""
        for element, handler in self.handlers:
            element.disconnect(handler)
        self.handlers = []
        GLib.idle_add(self.teardown)

    def teardown(self) -> bool:
        """Unlink each branch from its tee once the tee is idle on its pad, then (from the main loop)
        stop webrtcbin and the branches, in that order. While a branch hangs on a tee, a stopped
        webrtcbin makes it answer "flushing", which stops the camera's whole feed. The viewer then lets
        go of its GStreamer objects: the tee pad's probe holds the viewer, which held the pad and
        webrtcbin, a cycle through C that Python's collector cannot see (each ended viewer kept its ICE
        agent: 2 threads and 17 file descriptors)."""
        elements = [self.webrtc] + [pay for _, _, pay in self.branches]
        waiting = [len(self.branches)]

        def unlinked() -> bool:
            waiting[0] -= 1
            if waiting[0] == 0:
                self.drop(elements)
            return False  # once (GLib.idle_add)

        for tee, tee_pad, pay in self.branches:
            probe = self.keyframe_probe if tee is self.feed.video else None

            def unlink(pad, _info, tee=tee, pay=pay, probe=probe):
                if probe is not None:
                    pad.remove_probe(probe)
                pad.unlink(pay.get_static_pad("sink"))
                tee.release_request_pad(pad)
                GLib.idle_add(unlinked)
                return Gst.PadProbeReturn.REMOVE

            tee_pad.add_probe(Gst.PadProbeType.IDLE, unlink)
        if not self.branches:
            self.drop(elements)
        self.branches, self.webrtc, self.keyframe_probe = [], None, None
        return False  # once (GLib.idle_add)

    def drop(self, elements: list[Gst.Element]) -> bool:
        for element in elements:
            element.set_state(Gst.State.NULL)
            self.feed.pipeline.remove(element)
        return False  # once (GLib.idle_add)


class Service:
    """The feeds, the viewers, the rules; shared by the HTTP handler threads and the watchdog."""

    def __init__(self, config: dict, turn_secret: str):
        self.config = config
        self.rules = whep.Rules(config, turn_secret)
        self.feeds = {camera: Feed(camera, settings) for camera, settings in config["cameras"].items()}
        self.viewers: dict[str, Viewer] = {}
        self.lock = threading.Lock()
        self.starting: list[str] = []  # users of viewers being negotiated: they count toward the quotas

    def reload(self, config: dict) -> None:
        """New cameras, users and quotas (SIGHUP). A camera whose ports or audio changed is received
        anew, its viewers ended; other cameras' viewers stay while their user may still watch."""
        changed = {c for c in self.feeds if self.feeds[c].settings != config["cameras"].get(c)}
        with self.lock:
            gone = [v for v in self.viewers.values() if v.camera in changed or v.camera not in config["users"].get(v.user, ())]
        for viewer in gone:
            self.finish(viewer, "its camera or its user's cameras changed")
        for camera in changed:
            self.feeds.pop(camera).stop()
        for camera, settings in config["cameras"].items():
            if camera not in self.feeds:
                self.feeds[camera] = Feed(camera, settings)
        self.config = config
        self.rules.config = config

    def start(self, user: str, camera: str, offer: whep.Offer) -> tuple[str, str]:
        self.rules.may_watch(user, camera)
        feed = self.feeds[camera]
        age = feed.media_age_ms()
        if age is None or age > self.config["media_timeout"] * 1000:
            waited = "never" if age is None else f"not for {age // 1000} s"
            # WHEP: 409 with Retry-After when the stream is not live.
            raise whep.Refused(409, f"the camera's stream has {waited} reached the WebRTC engine; play HLS meanwhile", retry_after=3)
        with self.lock:
            self.rules.room_for(user, [v.user for v in self.viewers.values()] + self.starting)
            self.starting.append(user)
        try:
            viewer = Viewer(feed, user, offer, self.config, self.finish)
        finally:
            with self.lock:
                self.starting.remove(user)
        with self.lock:
            self.viewers[viewer.id] = viewer
        return viewer.id, viewer.answer

    def viewer(self, user: str, camera: str, viewer_id: str) -> Viewer:
        self.rules.may_watch(user, camera)
        with self.lock:
            viewer = self.viewers.get(viewer_id)
        # Another user's viewer is as unknown as a missing one: ids are not to be probed.
        if viewer is None or viewer.user != user or viewer.camera != camera:
            raise whep.Refused(404, "no such WebRTC session (it ended, or the player vanished)")
        return viewer

    def trickle(self, user: str, camera: str, viewer_id: str, candidates, ufrag: str | None) -> None:
        viewer = self.viewer(user, camera, viewer_id)
        if ufrag and viewer.remote_ufrag and ufrag != viewer.remote_ufrag:
            raise whep.Refused(422, "ICE restart is not supported: POST a new offer (docs/app.md, reconnecting)")
        viewer.add_candidates(candidates)

    def end(self, user: str, camera: str, viewer_id: str) -> None:
        self.finish(self.viewer(user, camera, viewer_id), "DELETE")

    def finish(self, viewer: Viewer, why: str) -> None:
        with self.lock:
            if self.viewers.pop(viewer.id, None) is None and viewer.ended:
                return
            viewer.ended = True
        if why != "DELETE":
            print(f"camgate-webrtc: viewer of {viewer.camera} ({viewer.user}) ended: {why}", file=sys.stderr, flush=True)
        viewer.stop()

    def watch(self) -> None:
        """End the viewers that are gone (never connected, or vanished without a DELETE); keep each
        camera's frames since its last keyframe (and no more) for joiners."""
        while True:
            time.sleep(WATCH_EVERY)
            try:
                self.look_around()
            except Exception as error:  # noqa: BLE001 - the watchdog must outlive any one failure
                print(f"camgate-webrtc: watchdog: {error!r}", file=sys.stderr, flush=True)

    def look_around(self) -> None:
        for feed in list(self.feeds.values()):
            feed.keep_recent_frames()
        now = time.monotonic()
        with self.lock:
            viewers = list(self.viewers.values())
        for viewer in viewers:
            why = viewer.gone(now)
            if why:
                self.finish(viewer, why)

    def status(self) -> dict:
        with self.lock:
            viewers = list(self.viewers.values())
        per_camera: dict[str, int] = {}
        for viewer in viewers:
            per_camera[viewer.camera] = per_camera.get(viewer.camera, 0) + 1
        return {
            "viewers": len(viewers),
            "connected": sum(v.connected for v in viewers),
            "cameras": per_camera,
            "media_age_ms": {camera: feed.media_age_ms() for camera, feed in self.feeds.items()},
        }


def read_config(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        config = json.load(handle)
    defaults = {"public_path": "/api/webrtc", "max_viewers": 100, "max_viewers_per_user": 16, "media_timeout": 10,
                "connect_timeout": 30, "viewer_timeout": 10, "ice_ports": [0, 0], "ice_urls": [], "ttl": 3600}  # fmt: skip
    return {**defaults, **config}


def serve(config_path: str) -> None:
    turn_secret = os.environ.get(TURN_SECRET_ENV)
    if not turn_secret:
        sys.exit(f"camgate-webrtc: {TURN_SECRET_ENV} is not set (the unit's EnvironmentFile holds it)")
    Gst.init(None)
    config = read_config(config_path)
    service = Service(config, turn_secret)
    whep.Handler.service = service
    threading.Thread(target=GLib.MainLoop().run, name="glib", daemon=True).start()
    threading.Thread(target=service.watch, name="watchdog", daemon=True).start()
    # SIGHUP (systemctl reload): new users without dropping the viewers that stay allowed.
    signal.signal(signal.SIGHUP, lambda *_: service.reload(read_config(config_path)))
    host, port = config["listen"]
    server = ThreadingHTTPServer((host, port), whep.Handler)
    server.daemon_threads = True
    print(f"camgate-webrtc: listening on {host}:{port}, {len(service.feeds)} cameras", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__.split("\n\n")[-1].strip())
    serve(sys.argv[1])
