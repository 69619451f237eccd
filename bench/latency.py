"""Live latency: from a frame leaving the camera to its segment being listed in the playlist nginx
serves, and from a camera unit's start to its first playlist.

Frame identity, not clocks: this script pulls the camera's RTSP stream itself and notes when each
keyframe (its IDR slice, hashed) arrives; it polls the signed playlist over HTTPS and, for each new
segment, hashes the segment's first IDR slice (video is copied, so the bytes are the same) and
subtracts. Bounded: SEGMENTS segments per camera. Needs the demo testbed (`make demo`), whose cam1
has hls_time 1 and cam2 hls_time 2 (AES-128: segments are decrypted with the key from the playlist).

    python -m bench.latency [--segments 15]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urljoin

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.players.hls import Client, parse_playlist, segment_url
from camgate.inventory import load_inventory
from camgate.remote import link_secret
from camgate.signing import signed_url

STATE = Path(".testbed/state.json")


def idr_hashes(annexb: bytes) -> list[str]:
    """Hashes of the IDR slice NAL units (type 5) of an H.264 Annex B stream, in order."""
    out = []
    for nal in annexb.split(b"\x00\x00\x01")[1:]:
        nal = nal.rstrip(b"\x00")
        if nal and nal[0] & 0x1F == 5:
            out.append(hashlib.sha1(nal).hexdigest())
    return out


class RtspWatcher(threading.Thread):
    """Pulls the camera directly; remembers when each IDR slice arrived."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.arrivals: dict[str, float] = {}
        self.proc = subprocess.Popen(
            ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url, "-map", "0:v", "-c", "copy",
             "-flush_packets", "1", "-f", "h264", "-"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def run(self) -> None:
        buffer = b""
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(65536):
            now = time.time()
            buffer += chunk
            cut = buffer.rfind(b"\x00\x00\x01")
            if cut <= 0:
                continue
            for digest in idr_hashes(buffer[:cut]):
                self.arrivals.setdefault(digest, now)
            buffer = buffer[cut:]

    def stop(self) -> None:
        self.proc.terminate()


def segment_first_idr(data: bytes) -> str | None:
    with tempfile.NamedTemporaryFile(suffix=".media") as ts:
        ts.write(data)
        ts.flush()
        raw = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", ts.name, "-map", "0:v", "-c", "copy", "-f", "h264", "-"],
            capture_output=True, timeout=30,
        ).stdout  # fmt: skip
    hashes = idr_hashes(raw)
    return hashes[0] if hashes else None


def decrypt(client: Client, playlist_url: str, text: str, uri: str, body: bytes) -> bytes:
    """AES-128-CBC with the key and IV the playlist names for this segment."""
    key_line = None
    for line in text.splitlines():
        if line.startswith("#EXT-X-KEY"):
            key_line = line
        if line.strip() == uri:
            break
    if key_line is None:
        return body
    attrs = dict(part.split("=", 1) for part in key_line.split(":", 1)[1].split(","))
    key = client.fetch(urljoin(playlist_url, attrs["URI"].strip('"'))).body
    iv = bytes.fromhex(attrs["IV"][2:])
    plain = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    data = plain.update(body) + plain.finalize()
    return data[: -data[-1]]  # PKCS#7


def measure(client: Client, camera_url: str, playlist_url: str, segments: int) -> list[float]:
    watcher = RtspWatcher(camera_url)
    watcher.start()
    latencies: list[float] = []
    seen: set[str] = set(s.uri for s in parse_playlist(client.fetch(playlist_url).body.decode()).segments)
    deadline = time.monotonic() + segments * 4 + 20
    while len(latencies) < segments and time.monotonic() < deadline:
        resp = client.fetch(playlist_url)
        listed_at = time.time()
        text = resp.body.decode()
        playlist = parse_playlist(text)
        # fMP4 segments decode only after their init section (EXT-X-MAP); MPEG-TS ones stand alone.
        init = client.fetch(segment_url(playlist_url, playlist.map_uri)).body if playlist.map_uri else b""
        for seg in playlist.segments:
            if seg.uri in seen:
                continue
            seen.add(seg.uri)
            body = client.fetch(segment_url(playlist_url, seg)).body
            digest = segment_first_idr(init + decrypt(client, playlist_url, text, seg.uri, body))
            if digest in watcher.arrivals:
                latencies.append(listed_at - watcher.arrivals[digest])
        time.sleep(0.05)
    watcher.stop()
    return latencies


def startup(state: dict, unit: str, client: Client, playlist_url: str) -> float:
    ssh = ["ssh", "-F", state["ssh_config"], state["ssh_alias"]]
    subprocess.run([*ssh, f"systemctl stop {unit}"], check=True)
    start = time.monotonic()
    subprocess.run([*ssh, f"systemctl start {unit}"], check=True)
    while time.monotonic() - start < 30:
        resp = client.fetch(playlist_url)
        if resp.status == 200 and parse_playlist(resp.body.decode()).segments:
            return time.monotonic() - start
        time.sleep(0.05)
    return float("nan")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 2 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=15)
    args = parser.parse_args()
    state = json.loads(STATE.read_text())
    (gateway, data), = load_inventory("inventory/testbed.py")
    secret = link_secret(gateway, data)
    ca = subprocess.run(["ssh", "-F", state["ssh_config"], state["ssh_alias"], "cat /etc/camgate/tls/selfsigned-ca/ca.pem"],
                        capture_output=True, text=True, check=True).stdout  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as cafile:
        cafile.write(ca)
        cafile.flush()
        client = Client(cafile=cafile.name)
        print(f"{'camera':7} {'hls_time':>8} {'segments':>8} {'p50 s':>7} {'p95 s':>7} {'over hls_time p50':>18} {'unit start -> playlist s':>25}")
        for cam_id in ("cam1", "cam2"):
            camera = gateway.camera(cam_id)
            url, _ = signed_url(gateway, camera, secret, ttl=900)
            rtsp = next(c["url"] for c in state["cameras"] if c["id"] == cam_id)
            lat = measure(client, rtsp, url, args.segments)
            first = startup(state, camera.unit_name, client, url)
            p50 = statistics.median(lat) if lat else float("nan")
            print(f"{cam_id:7} {camera.hls_time:8} {len(lat):8} {p50:7.2f} {pct(lat, 95):7.2f} {p50 - camera.hls_time:18.2f} {first:25.2f}")


if __name__ == "__main__":
    main()
