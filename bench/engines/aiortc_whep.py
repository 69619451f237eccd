#!/usr/bin/python3
"""A minimal WHEP server on aiortc: a BENCH-ONLY comparison engine for bench/webrtc_engines.py, never
shipped, never deployed (camgate's engine is camgate/gateway/webrtc.py, GStreamer's webrtcbin).

    /usr/bin/python3 bench/engines/aiortc_whep.py --port 8090 --rtp-port 5004 [--camera front]

Issue 27 compares the WebRTC engines packaged in Debian 12 and 13; this is the aiortc one (Debian's
python3-aiortc 1.4.0), kept as close to camgate-webrtc's job as aiortc allows:
- one camera: its RTP H.264 (payload type 96, SPS/PPS in band) on 127.0.0.1:--rtp-port, read by
  aiortc's MediaPlayer from an SDP file (format "sdp", protocol_whitelist file,udp,rtp) with
  decode=False: the camera's H.264 is relayed as it comes, never decoded or re-encoded (the packets go
  to aiortc's H264Encoder.pack(), which only packetizes). The ingest runs from the start, a viewer or
  not (a drain consumer), as camgate-webrtc's does, so "no viewer" costs what receiving the camera costs.
  MediaPlayer's playback pacing is turned off (a private attribute, _throttle_playback: see open()).
- one MediaRelay shares that source among viewers, each viewer an RTCPeerConnection sending H.264
  only (codec preferences set before the offer is applied, so Chromium's VP8 is never chosen).
- WHEP: POST /api/webrtc/<camera> with the offer (application/sdp) -> 201, the answer (every candidate
  in it) and Location; DELETE <Location> -> 200. No Bearer token is asked for (a bench on loopback).
  GET /status -> {"viewers", "connected"} (JSON). Anything else: 404 with a small HTML page (the
  browser player of tests/players writes itself into the server's own 404 document).
- ICE on 127.0.0.1 only (aioice's host addresses are replaced): loopback, nothing leaves the machine.
No audio, no TURN, no quotas, no timeouts beyond ICE's own: it is for measuring, not for serving.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import tempfile
import uuid

import aioice.ice
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.rtcrtpsender import RTCRtpSender

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

SDP = """v=0
o=- 0 0 IN IP4 127.0.0.1
s=camera
c=IN IP4 127.0.0.1
t=0 0
m=video {port} RTP/AVP 96
a=rtpmap:96 H264/90000
a=fmtp:96 packetization-mode=1
"""


class Engine:
    def __init__(self, camera: str, rtp_port: int):
        self.camera = camera
        self.sdp = tempfile.NamedTemporaryFile("w", suffix=".sdp", prefix="aiortc-whep-", delete=False)
        self.sdp.write(SDP.format(port=rtp_port))
        self.sdp.close()
        self.player: MediaPlayer | None = None
        self.relay = MediaRelay()
        self.viewers: dict[str, RTCPeerConnection] = {}

    def open(self) -> None:
        # Blocks until the camera's stream is probed (its SPS/PPS): done before serving.
        self.player = MediaPlayer(self.sdp.name, format="sdp", options={"protocol_whitelist": "file,udp,rtp"}, decode=False)
        if self.player.video is None:
            raise SystemExit("no H.264 video in the camera's RTP")
        # aiortc paces what it reads from any format but a capture device's (REAL_TIME_FORMATS) to the
        # wall clock from the FIRST packet: the packets queued while the stream was probed then stay
        # that late for good (about 1 s of glass-to-glass more). A live RTP input needs no pacing.
        self.player._throttle_playback = False
        os.unlink(self.sdp.name)

    async def drain(self) -> None:
        """Keep the source read with no viewer (the relay only reads while a consumer asks)."""
        sink = self.relay.subscribe(self.player.video, buffered=False)
        while True:
            await sink.recv()

    async def answer(self, offer: str) -> tuple[str, str]:
        pc = RTCPeerConnection()
        transceiver = pc.addTransceiver(self.relay.subscribe(self.player.video, buffered=True), direction="sendonly")
        transceiver.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"])
        viewer = uuid.uuid4().hex

        @pc.on("connectionstatechange")
        async def changed():
            if pc.connectionState in ("failed", "closed"):
                await self.end(viewer)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())  # gathers every candidate first
        self.viewers[viewer] = pc
        return viewer, pc.localDescription.sdp

    async def end(self, viewer: str) -> bool:
        pc = self.viewers.pop(viewer, None)
        if pc is None:
            return False
        await pc.close()
        return True

    def status(self) -> dict:
        return {"viewers": len(self.viewers), "connected": sum(pc.connectionState == "connected" for pc in self.viewers.values())}


async def handle(engine: Engine, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            method, target, _ = line.decode("latin-1").split(" ", 2)
            headers = {}
            while (header := (await reader.readline()).decode("latin-1").strip()):
                name, _, value = header.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            status, extra, reply = await route(engine, method, target.split("?")[0], body)
            head = [f"HTTP/1.1 {status} {STATUS[status]}", f"Content-Length: {len(reply)}", *extra]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + reply)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        return
    finally:
        writer.close()


STATUS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
PATH = "/api/webrtc/"


async def route(engine: Engine, method: str, path: str, body: bytes) -> tuple[int, list[str], bytes]:
    if path == "/status" and method == "GET":
        return 200, ["Content-Type: application/json"], json.dumps(engine.status()).encode()
    if path == PATH + engine.camera and method == "POST":
        try:
            viewer, answer = await engine.answer(body.decode())
        except Exception as error:  # a bad offer: its reason
            return 400, ["Content-Type: text/plain"], str(error).encode()
        return 201, ["Content-Type: application/sdp", f"Location: {PATH}{engine.camera}/{viewer}"], answer.encode()
    if path.startswith(f"{PATH}{engine.camera}/") and method == "DELETE":
        return (200 if await engine.end(path.rsplit("/", 1)[1]) else 404), [], b""
    if path.startswith(f"{PATH}{engine.camera}/") and method == "PATCH":
        return 204, [], b""  # trickle: every candidate of ours is in the answer; the browser's arrive as prflx
    # A body, as the gateway's 404 page has: the browser player writes itself into this document.
    return 404, ["Content-Type: text/html"], b"<!doctype html><title>404</title>not found"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="WHEP's HTTP port on 127.0.0.1")
    parser.add_argument("--rtp-port", type=int, required=True, help="the camera's RTP H.264 on 127.0.0.1")
    parser.add_argument("--camera", default="front")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    engine = Engine(args.camera, args.rtp_port)
    await asyncio.get_running_loop().run_in_executor(None, engine.open)
    drain = asyncio.ensure_future(engine.drain())
    server = await asyncio.start_server(lambda r, w: handle(engine, r, w), "127.0.0.1", args.port)
    print(f"READY http://127.0.0.1:{args.port}{PATH}{args.camera}", flush=True)
    async with server:
        await server.serve_forever()
    drain.cancel()


if __name__ == "__main__":
    asyncio.run(main())
