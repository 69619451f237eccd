"""nginx: live HLS behind signed expiring URLs, the app's camera manifest, HTTPS (see roles.tls)."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import server

from camgate import paths
from camgate.inventory import gateway_from_host
from camgate.render import render, render_edge_keys, render_htpasswd, render_manifest_module, render_nginx_site
from camgate.secrets import resolve_secret
from camgate.tls import nginx_version
from roles.facts import Accounts, before, installed_version_and_distro, known_file_state
from roles.operations import UNCHANGED, apply_site, metrics_htpasswd, prepare_nginx, put, put_secret


@deploy("camgate nginx")
def nginx() -> None:
    """Guarantees: nginx and its njs module installed, enabled and running; the distribution's
    default site gone; the site, the manifest module and the app users' password hashes live only
    after `nginx -t` accepted them together (a rejected set is rolled back and fails the deploy);
    nginx reloaded only when one of them (or its access to the HLS files) changed.
    Streams: only /s/<token>/<expires>/<camera>/<file> with a valid, unexpired signature; the
    signing secret in /etc/nginx/camgate/link-secret.conf (0600 root), from url_secret_ref or made
    on the gateway once. App: /api/cameras and /api/cameras/<id> behind HTTP basic auth.
    With metrics_from: metrics_port serves /metrics (roles/metrics.py) to those sources only, behind
    the metrics user's password (its hash in /etc/nginx/camgate/metrics.htpasswd).
    With TLS: port 80 answers ACME challenges and redirects the rest to HTTPS.
    Reads: tls, domain, alt_domains, http_port, https_port, hls_root, cors_origin, url_ttl,
    url_secret_ref, app_users, cameras (ids, names, encrypt), metrics_from, metrics_port, metrics_user,
    metrics_password_ref."""
    gateway = gateway_from_host(host)
    www_data = (before(Accounts) or {}).get("www-data") or {}
    hls_group = UNCHANGED if "camgate" in www_data.get("groups", ()) else server.user(
        name="nginx may read HLS (group camgate)", user="www-data", groups=["camgate"], append=True, ensure_home=False
    )  # fmt: skip
    default_site = prepare_nginx()
    put(name="Script camgate-link-secret", content=render("bin/camgate-link-secret.j2"), dest=paths.LINK_SECRET_SCRIPT, mode="0755")
    link_secret = ensure_link_secret(gateway)

    users = [(u.name, resolve_secret(u.password_ref, gateway.secrets_file)) for u in gateway.app_users]
    version = nginx_version(*installed_version_and_distro("nginx"))
    bundle = [
        ("camgate.conf", paths.NGINX_SITE, render_nginx_site(gateway, version), "root", "0644"),
        ("camgate.js", paths.NJS_MODULE, render_manifest_module(gateway), "root", "0644"),
        ("app-users.htpasswd", paths.HTPASSWD, render_htpasswd(users), "www-data", "0640"),
        metrics_htpasswd(gateway),
        ("edge-keys.conf", paths.EDGE_KEYS_CONF, render_edge_keys(gateway), "root", "0600"),
    ]
    apply_site(bundle, default_site, hls_group, link_secret or UNCHANGED)


def ensure_link_secret(gateway):
    """The URL signing secret: the inventory's (url_secret_ref), else one made on the gateway once."""
    if gateway.url_secret_ref:
        secret = resolve_secret(gateway.url_secret_ref, gateway.secrets_file)
        return put_secret(
            name="URL signing secret (from the secrets store)",
            dest=paths.LINK_SECRET_CONF,
            content=render("nginx/camgate/link-secret.conf.j2", secret=secret),
        )
    if known_file_state(paths.LINK_SECRET_CONF)[1] is not None:
        return None
    # Made on the host, never read back by the deploy: it cannot show up in pyinfra's output.
    return server.shell(name="URL signing secret (made on the gateway once)", commands=[paths.LINK_SECRET_SCRIPT])
