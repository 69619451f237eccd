"""A caching edge: nginx's proxy cache in front of one or more gateways (docs/edges.md)."""

from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files

from camgate import paths
from camgate.inventory import edge_from_host
from camgate.render import render_edge_secrets, render_edge_site
from camgate.tls import nginx_version
from roles.facts import PathStates, before, directory_state, installed_version_and_distro
from roles.operations import apply_site, metrics_htpasswd, prepare_nginx


@deploy("camgate edge")
def edge() -> None:
    """Guarantees: nginx installed, enabled and running, the distribution's default site gone; the
    edge's site, its secrets (/etc/nginx/camgate/edge-secrets.conf, 0600 root: each gateway's URL
    secret and the edge's own credential) and, with origin_ca, the CA it trusts for its gateways live
    only after `nginx -t` accepted them together (a rejected set is rolled back and fails the
    deploy); the cache folder (www-data, 0700); nginx reloaded only when one of them changed.
    Viewers: /s/ and /r/ URLs signed as the gateways sign them, checked here, served from the cache.
    With metrics_from: metrics_port serves /metrics and /metrics/cache (roles/metrics.py) to those
    sources only, behind the metrics user's password.
    Reads: domain, alt_domains, http_port, https_port, cors_origin, secret_ref, cache_max_size,
    origin_ca, metrics_from, metrics_port, metrics_user, metrics_password_ref, and of each gateway: its DNS name, origin_address, origin_port, url_secret_ref, cameras."""
    site = edge_from_host(host)
    default_site = prepare_nginx()
    cache_parent = str(Path(paths.EDGE_CACHE_DIR).parent)
    present = before(PathStates, paths=(cache_parent, paths.EDGE_CACHE_DIR))
    for folder, owner, mode in ((cache_parent, "root", "0755"), (paths.EDGE_CACHE_DIR, "www-data", "0700")):
        if present.get(folder) != directory_state(mode, owner, owner):
            files.directory(name=folder, path=folder, user=owner, group=owner, mode=mode)
    version = nginx_version(*installed_version_and_distro("nginx"))
    bundle = [
        ("camgate.conf", paths.NGINX_SITE, render_edge_site(site, version), "root", "0644"),
        ("edge-secrets.conf", paths.EDGE_SECRETS_CONF, render_edge_secrets(site), "root", "0600"),
        metrics_htpasswd(site),
    ]
    if site.origin_ca:
        bundle.append(("origin-ca.pem", paths.EDGE_ORIGIN_CA, Path(site.origin_ca).read_text(), "root", "0644"))
    apply_site(bundle, default_site)
