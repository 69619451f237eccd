"""Let's Encrypt (or any ACME CA): certbot with the webroot nginx already serves, renewal by the
distribution's certbot.timer, and a deploy hook that reloads nginx."""

import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import FindInFile, Link
from pyinfra.operations import apt, files, server, systemd

from camgate.inventory import gateway_from_host
from camgate.render import render
from camgate.tls import (
    ACME_CA_BUNDLE,
    CURRENT_DIR,
    LETSENCRYPT_DIR,
    LETSENCRYPT_RENEWAL_CONF,
    certbot_command,
    letsencrypt_needs_issuing,
)
from roles.facts import Certificate
from roles.tls import USE_SCRIPT

RENEWAL_HOOK = "/etc/letsencrypt/renewal-hooks/deploy/camgate-reload-nginx"
CERTBOT_DROPIN = "/etc/systemd/system/certbot.service.d/camgate.conf"


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
        dest=RENEWAL_HOOK,
        user="root",
        group="root",
        mode="0755",
    )
    env = {}
    if gateway.acme_ca_bundle:
        env["REQUESTS_CA_BUNDLE"] = ACME_CA_BUNDLE
        files.put(name="ACME server CA bundle", src=gateway.acme_ca_bundle, dest=ACME_CA_BUNDLE, mode="0644")
    dropin = files.put(
        name="certbot.timer renewals trust the ACME server",
        src=StringIO(render("systemd/certbot.service.d/camgate.conf.j2", ca_bundle=ACME_CA_BUNDLE)),
        dest=CERTBOT_DROPIN,
        mode="0644",
    ) if gateway.acme_ca_bundle else files.file(name="No certbot CA override", path=CERTBOT_DROPIN, present=False)  # fmt: skip
    systemd.daemon_reload(name="Reload systemd (certbot drop-in)", _if=dropin.did_change)

    cert = host.get_fact(Certificate, path=f"{LETSENCRYPT_DIR}/fullchain.pem")
    renewal = host.get_fact(FindInFile, path=LETSENCRYPT_RENEWAL_CONF, pattern="^server")
    current = (host.get_fact(Link, path=CURRENT_DIR) or {}).get("link_target")
    use_it = shlex.join([USE_SCRIPT, LETSENCRYPT_DIR])
    if letsencrypt_needs_issuing(gateway, cert, renewal):
        # renewal-hooks run on `renew` only, so the first issuance switches and reloads itself.
        server.shell(
            name=f"Obtain a certificate for {', '.join(gateway.certificate_names)} (certbot, webroot)",
            commands=[f"{shlex.join(certbot_command(gateway))} && {use_it}"],
            _env=env,
        )
    elif current != LETSENCRYPT_DIR:
        server.shell(name="Serve the Let's Encrypt certificate", commands=[use_it])
    systemd.service(name="certbot.timer renews", service="certbot.timer", running=True, enabled=True)
