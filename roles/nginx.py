"""nginx: serves each camera's live HLS at /hls/<camera-id>/ with the right types and headers."""

from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import Sha1File
from pyinfra.operations import apt, files, server, systemd

from camgate.inventory import gateway_from_host
from camgate.render import render, render_nginx_site, sha1
from camgate.tls import nginx_version
from roles.facts import installed_version_and_distro

SITE_LIVE = "/etc/nginx/conf.d/camgate.conf"
SITE_STAGED = "/etc/camgate/nginx/camgate.conf"
APPLY = "/usr/local/lib/camgate/camgate-nginx-apply"


@deploy("camgate nginx")
def nginx() -> None:
    """Guarantees: nginx installed, enabled and running; the distribution's default site gone; the
    camgate site live only after `nginx -t` accepted it (a rejected config is rolled back and fails
    the deploy); nginx reloaded only when its config or its access to the HLS files changed.
    With TLS: port 80 answers ACME challenges and redirects the rest to HTTPS; HTTPS with Mozilla
    intermediate settings, HTTP/2 and HSTS serves the streams.
    Reads: tls, domain, alt_domains, http_port, https_port, hls_root, cors_origin."""
    gateway = gateway_from_host(host)
    apt.packages(name="Install nginx", packages=["nginx"], no_recommends=True)
    hls_group = server.user(name="nginx may read HLS (group camgate)", user="www-data", groups=["camgate"], append=True)
    default_site = files.link(name="Drop the default site", path="/etc/nginx/sites-enabled/default", present=False)
    files.put(
        name="nginx apply script",
        src=StringIO(render("bin/camgate-nginx-apply.j2")),
        dest=APPLY,
        user="root",
        group="root",
        mode="0755",
    )
    site = render_nginx_site(gateway, nginx_version(*installed_version_and_distro("nginx")))
    files.put(name="Stage the camgate site", src=StringIO(site), dest=SITE_STAGED, user="root", group="root", mode="0644")
    # Compared with what is live (not with the staged copy), so an interrupted deploy still converges.
    site_differs = host.get_fact(Sha1File, path=SITE_LIVE) != sha1(site)
    server.shell(
        name="Test and apply the camgate site (nginx -t, reload)",
        commands=[f"{APPLY} {SITE_STAGED} {SITE_LIVE}"],
        _if=lambda: site_differs or default_site.did_change() or hls_group.did_change(),
    )
    systemd.service(name="nginx enabled and running", service="nginx", running=True, enabled=True)
