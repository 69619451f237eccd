"""Let's Encrypt (or any ACME CA): certbot with the webroot nginx already serves, renewal by the
distribution's certbot.timer, and a deploy hook that reloads nginx."""

import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import FindInFile, Link
from pyinfra.operations import apt, files, server, systemd

from camgate import paths
from camgate.inventory import gateway_from_host
from camgate.render import render
from camgate.tls import certbot_command, letsencrypt_needs_issuing
from roles.facts import Certificate


@deploy("camgate letsencrypt")
def letsencrypt() -> None:
    """Guarantees with tls='letsencrypt': certbot installed; a certificate named `camgate` for
    domain + alt_domains from acme_server, obtained through /var/lib/camgate/acme (served by nginx
    on port 80) and served by nginx; certbot.timer enabled; the renewal deploy hook runs `nginx -t`
    and reloads nginx. certbot is called only when the certificate is missing or its names or its
    ACME server changed: a re-deploy never contacts the CA.
    Reads: tls, domain, alt_domains, acme_email, acme_server, acme_ca_bundle."""
    gateway = gateway_from_host(host)
    if gateway.tls != "letsencrypt":
        return
    apt.packages(name="Install certbot", packages=["certbot"], no_recommends=True)
    files.put(
        name="certbot deploy hook: reload nginx",
        src=StringIO(render("letsencrypt/renewal-hooks/deploy/camgate-reload-nginx.j2")),
        dest=paths.LETSENCRYPT_RENEWAL_HOOK,
        user="root",
        group="root",
        mode="0755",
    )
    env = {}
    if gateway.acme_ca_bundle:
        env["REQUESTS_CA_BUNDLE"] = paths.ACME_CA_BUNDLE
        files.put(name="ACME server CA bundle", src=gateway.acme_ca_bundle, dest=paths.ACME_CA_BUNDLE, mode="0644")
    dropin = files.put(
        name="certbot.timer renewals trust the ACME server",
        src=StringIO(render("systemd/certbot.service.d/camgate.conf.j2")),
        dest=paths.CERTBOT_DROPIN,
        mode="0644",
    ) if gateway.acme_ca_bundle else files.file(name="No certbot CA override", path=paths.CERTBOT_DROPIN, present=False)  # fmt: skip
    systemd.daemon_reload(name="Reload systemd (certbot drop-in)", _if=dropin.did_change)

    cert = host.get_fact(Certificate, path=f"{paths.LETSENCRYPT_LIVE}/fullchain.pem")
    renewal = host.get_fact(FindInFile, path=paths.LETSENCRYPT_RENEWAL_CONF, pattern="^server")
    current = (host.get_fact(Link, path=paths.TLS_CURRENT) or {}).get("link_target")
    use_it = shlex.join([paths.TLS_USE_SCRIPT, paths.LETSENCRYPT_LIVE])
    if letsencrypt_needs_issuing(gateway, cert, renewal):
        # renewal-hooks run on `renew` only, so the first issuance switches and reloads itself.
        server.shell(
            name=f"Obtain a certificate for {', '.join(gateway.certificate_names)} (certbot, webroot)",
            commands=[f"{shlex.join(certbot_command(gateway))} && {use_it}"],
            _env=env,
        )
    elif current != paths.LETSENCRYPT_LIVE:
        server.shell(name="Serve the Let's Encrypt certificate", commands=[use_it])
    systemd.service(name="certbot.timer renews", service=paths.CERTBOT_TIMER, running=True, enabled=True)
