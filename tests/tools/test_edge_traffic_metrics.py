"""An edge's traffic metrics: the distribution's mtail (Debian's `mtail`) running camgate's program
(templates/mtail) over access log lines written in the edge's own log_format, and promtool linting
what comes out."""

import re
import shutil
import subprocess

import pytest

from camgate.render import render, render_edge_site
from tests.tools.test_prometheus_files import promtool
from tests.unit.test_edges import a_gateway, an_edge, parsed_edges, secrets_in_env  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(not shutil.which("mtail"), reason="needs mtail (Debian's mtail package; `make setup` installs it)")

# What nginx would log for each request: the variables of log_format camgate_edge.
REQUESTS = [
    {"$camgate_request_kind": "viewer", "$status": "200", "$upstream_cache_status": "MISS", "$upstream_status": "200", "$body_bytes_sent": "1000"},
    *[{"$camgate_request_kind": "viewer", "$status": "200", "$upstream_cache_status": "HIT", "$upstream_status": "-", "$body_bytes_sent": "1000"}] * 8,
    {"$camgate_request_kind": "viewer", "$status": "403", "$upstream_cache_status": "-", "$upstream_status": "-", "$body_bytes_sent": "146"},
    # The gateway went away: a background refresh fails, the viewer gets the stale playlist.
    {"$camgate_request_kind": "refresh", "$status": "200", "$upstream_cache_status": "EXPIRED", "$upstream_status": "502", "$body_bytes_sent": "0"},
    {"$camgate_request_kind": "viewer", "$status": "200", "$upstream_cache_status": "STALE", "$upstream_status": "-", "$body_bytes_sent": "300"},
    # A camera that is down: the gateway's 503 passed on, not an origin error.
    {"$camgate_request_kind": "viewer", "$status": "503", "$upstream_cache_status": "MISS", "$upstream_status": "503", "$body_bytes_sent": "20"},
]


def log_format() -> str:
    gateways = [a_gateway("gw1", ["front"], [an_edge()])]
    site = render_edge_site(parsed_edges(gateways)["edge1.example.com"], (1, 22, 1))
    return re.search(r"log_format camgate_edge '([^']*)';", site).group(1)


def log_line(fmt: str, request: dict) -> str:
    common = {"$time_iso8601": "2026-12-05T10:00:00+00:00", "$remote_addr": "192.0.2.7", "$uri": "/s/tok/1/front/stream.m3u8",
              "$camgate_origin_name": "gw1.example.com"}  # fmt: skip
    values = {**common, **request}
    return re.sub(r"\$[a-z_0-9]+", lambda m: values[m.group(0)], fmt)


def test_mtail_counts_viewers_by_cache_status_and_the_gateways_errors(tmp_path):
    fmt = log_format()
    (tmp_path / "camgate-edge.log").write_text("".join(log_line(fmt, r) + "\n" for r in REQUESTS))
    (tmp_path / "camgate-edge.mtail").write_text(render("mtail/camgate-edge.mtail.j2"))
    result = subprocess.run(
        ["mtail", "--one_shot", "--one_shot_format", "prometheus", "--emit_prog_label=false", "--logtostderr",
         "--progs", str(tmp_path / "camgate-edge.mtail"), "--logs", str(tmp_path / "camgate-edge.log")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in result.stdout.splitlines() if line.startswith("camgate_")}
    assert samples == {
        'camgate_edge_requests_total{cache="HIT",code="200"}': 8,
        'camgate_edge_requests_total{cache="MISS",code="200"}': 1,
        'camgate_edge_requests_total{cache="MISS",code="503"}': 1,
        'camgate_edge_requests_total{cache="STALE",code="200"}': 1,
        'camgate_edge_requests_total{cache="none",code="403"}': 1,  # refused at the edge: no cache involved
        'camgate_edge_sent_bytes_total{cache="HIT"}': 8000,
        'camgate_edge_sent_bytes_total{cache="MISS"}': 1020,
        'camgate_edge_sent_bytes_total{cache="STALE"}': 300,
        'camgate_edge_sent_bytes_total{cache="none"}': 146,
        # The refresh is no viewer's request, but its trip to the gateway counts.
        'camgate_edge_origin_responses_total{code="200",gateway="gw1.example.com"}': 1,
        'camgate_edge_origin_responses_total{code="502",gateway="gw1.example.com"}': 1,
        'camgate_edge_origin_responses_total{code="503",gateway="gw1.example.com"}': 1,
        'camgate_edge_origin_errors_total{gateway="gw1.example.com"}': 1,
    }, result.stdout
    linted = promtool("check", "metrics", stdin=result.stdout)
    assert linted.returncode == 0, linted.stdout + linted.stderr
