"""Simulated live viewers: each polls its own signed media playlist and fetches the segments a
player at the live edge would, over one keep-alive HTTPS connection. Bounded by a deadline: used by
the edge tests and bench.edge, against testbed addresses only."""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.players.hls import Client, parse_playlist, segment_url

REFRESH = 0.5  # seconds between playlist polls: a player refreshes a 1 s-segment playlist about this often


@dataclass
class Tally:
    """What the viewers got: responses by status, failures by kind (thread-safe through a lock)."""

    served: collections.Counter = field(default_factory=collections.Counter)
    errors: collections.Counter = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.served[status] += 1
            if status != 200:
                self.errors[status] += 1

    def fail(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] += 1


def watch(client: Client, url: str, until: float, tally: Tally) -> None:
    """One viewer of the media playlist `url` until the monotonic time `until`."""
    seen: set[str] = set()
    conn = client.connection(url)
    try:
        while time.monotonic() < until:
            conn.request("GET", urlsplit(url).path)
            resp = conn.getresponse()
            body = resp.read()
            tally.count(resp.status)
            if resp.status == 200:
                for segment in parse_playlist(body.decode()).segments[-2:]:
                    if segment.uri not in seen:
                        seen.add(segment.uri)
                        conn.request("GET", urlsplit(segment_url(url, segment)).path)
                        seg = conn.getresponse()
                        seg.read()
                        tally.count(seg.status)
            time.sleep(REFRESH)
    except OSError as exc:
        tally.fail(type(exc).__name__)
    finally:
        conn.close()


def run_viewers(client: Client, urls: list[str], seconds: float) -> Tally:
    """One viewer per URL (each with its own token, as each app user has), all for `seconds`."""
    tally = Tally()
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=watch, args=(client, url, until, tally), daemon=True) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return tally
