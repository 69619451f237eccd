"""nft (this machine's) loads the rendered ruleset in a throwaway network namespace."""

import os
import shutil
import subprocess

import pytest

from camgate.firewall import render_ruleset, ruleset_for
from camgate.model import parse_gateway


def gw(**fields):
    return parse_gateway("gw1", {"domain": "cams.example.com", "acme_email": "ops@example.com", **fields})


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"),
    reason="needs root, nft and unshare (checked in a throwaway network namespace)",
)
@pytest.mark.parametrize("allow_from", [(), ("192.0.2.0/24", "2001:db8::/32")])
@pytest.mark.parametrize("metrics_from", [(), ("198.51.100.7", "2001:db8::/48")])
def test_nft_accepts_the_ruleset_twice_in_a_row(tmp_path, allow_from, metrics_from):
    """Loaded twice in an empty network namespace: the first load works with no table yet, the second
    replaces the first (the idempotent pattern), and only our table is left."""
    path = tmp_path / "camgate.nft"
    path.write_text(render_ruleset(ruleset_for(gw(ssh_allow_from=list(allow_from), metrics_from=list(metrics_from), metrics_password_ref="secret:metrics"), 22, "10.231.5.1")))
    script = f"nft -c -f {path} && nft -f {path} && nft -f {path} && nft list tables"
    result = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:-1] == ["table inet camgate"]
