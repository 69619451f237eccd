"""nginx: live HLS behind signed expiring URLs, the app's camera manifest, HTTPS (see roles.tls)."""

from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import File, Sha1File
from pyinfra.operations import apt, files, server, systemd

from camgate import paths
from camgate.inventory import gateway_from_host
from camgate.render import render, render_htpasswd, render_manifest_module, render_nginx_site, sha1
from camgate.secrets import resolve_secret
from camgate.tls import nginx_version
from roles.facts import installed_version_and_distro
from roles.operations import put_secret


@deploy("camgate nginx")
def nginx() -> None:
    """Guarantees: nginx and its njs module installed, enabled and running; the distribution's
    default site gone; the site, the manifest module and the app users' password hashes live only
    after `nginx -t` accepted them together (a rejected set is rolled back and fails the deploy);
    nginx reloaded only when one of them (or its access to the HLS files) changed.
    Streams: only /s/<token>/<expires>/<camera>/<file> with a valid, unexpired signature; the
    signing secret in /etc/nginx/camgate/link-secret.conf (0600 root), from url_secret_ref or made
    on the gateway once. App: /api/cameras and /api/cameras/<id> behind HTTP basic auth.
    With TLS: port 80 answers ACME challenges and redirects the rest to HTTPS.
    Reads: tls, domain, alt_domains, http_port, https_port, hls_root, cors_origin, url_ttl,
    url_secret_ref, app_users, cameras (ids, names, encrypt)."""
    gateway = gateway_from_host(host)
    apt.packages(name="Install nginx and njs", packages=["nginx", "libnginx-mod-http-js"], no_recommends=True)
    hls_group = server.user(
        name="nginx may read HLS (group camgate)", user="www-data", groups=["camgate"], append=True, ensure_home=False
    )
    default_site = files.link(name="Drop the default site", path=paths.NGINX_DEFAULT_SITE, present=False)
    for script, template in ((paths.NGINX_APPLY, "bin/camgate-nginx-apply.j2"), (paths.LINK_SECRET_SCRIPT, "bin/camgate-link-secret.j2")):
        files.put(
            name=f"Script {script.rsplit('/', 1)[-1]}",
            src=StringIO(render(template)),
            dest=script,
            user="root",
            group="root",
            mode="0755",
        )
    files.directory(name=paths.NGINX_CAMGATE_DIR, path=paths.NGINX_CAMGATE_DIR, user="root", group="www-data", mode="0750")
    files.directory(name=paths.NGINX_STAGING_DIR, path=paths.NGINX_STAGING_DIR, user="root", group="root", mode="0700")
    link_secret = ensure_link_secret(gateway)

    users = [(u.name, resolve_secret(u.password_ref, gateway.secrets_file)) for u in gateway.app_users]
    version = nginx_version(*installed_version_and_distro("nginx"))
    # (staged name, live path, content, group, mode): applied together, so they never disagree.
    bundle = [
        ("camgate.conf", paths.NGINX_SITE, render_nginx_site(gateway, version), "root", "0644"),
        ("camgate.js", paths.NJS_MODULE, render_manifest_module(gateway), "root", "0644"),
        ("app-users.htpasswd", paths.HTPASSWD, render_htpasswd(users), "www-data", "0640"),
    ]
    differs = False
    for name, live, content, group, mode in bundle:
        # put_secret: never the content, not even with --diff (the htpasswd holds password hashes)
        put_secret(name=f"Stage {live}", dest=f"{paths.NGINX_STAGING_DIR}/{name}", content=content, group=group, mode=mode)
        # Compared with what is live (not with the staged copy), so an interrupted deploy still converges.
        differs = differs or host.get_fact(Sha1File, path=live) != sha1(content)
    pairs = " ".join(f"{paths.NGINX_STAGING_DIR}/{name}:{live}" for name, live, *_ in bundle)
    server.shell(
        name="Test and apply the camgate site (nginx -t, reload)",
        commands=[f"{paths.NGINX_APPLY} {pairs}"],
        _if=lambda: differs or default_site.did_change() or hls_group.did_change() or bool(link_secret and link_secret.did_change()),
    )
    systemd.service(name="nginx enabled and running", service="nginx", running=True, enabled=True)


def ensure_link_secret(gateway):
    """The URL signing secret: the inventory's (url_secret_ref), else one made on the gateway once."""
    if gateway.url_secret_ref:
        secret = resolve_secret(gateway.url_secret_ref, gateway.secrets_file)
        return put_secret(
            name="URL signing secret (from the secrets store)",
            dest=paths.LINK_SECRET_CONF,
            content=render("nginx/camgate/link-secret.conf.j2", secret=secret),
        )
    if host.get_fact(File, path=paths.LINK_SECRET_CONF):
        return None
    # Made on the host, never read back by the deploy: it cannot show up in pyinfra's output.
    return server.shell(name="URL signing secret (made on the gateway once)", commands=[paths.LINK_SECRET_SCRIPT])
