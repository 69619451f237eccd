"""The deploy's own record on the gateway: what camgate version and inventory it last applied."""

import hashlib
import json
from pyinfra import host
from pyinfra.api import deploy

from camgate import __version__, paths
from camgate.inventory import site_from_host
from camgate.render import render
from roles.operations import put


@deploy("camgate deployed")
def deployed() -> None:
    """Guarantees, as the deploy's last step: /etc/camgate/deployed.json names camgate's version
    and a digest of the gateway as the inventory declares it (no secret values, only their
    references). It changes only when one of them does, so a re-deploy changes nothing and its
    mtime is when a complete deploy last changed the declared configuration (the metrics report
    it as camgate_deploy_timestamp_seconds). Reads: the whole gateway."""
    gateway = site_from_host(host)
    declared = json.dumps(gateway.to_data(), sort_keys=True, default=list)
    stamp = {"version": __version__, "inventory_sha256": hashlib.sha256(declared.encode()).hexdigest()}
    put(name="Record the deploy", content=render("camgate/deployed.json.j2", stamp=stamp), dest=paths.DEPLOY_STAMP)
