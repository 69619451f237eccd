"""Let's Encrypt (or any ACME CA): certbot with the webroot nginx already serves, renewal by the
distribution's certbot.timer, and a deploy hook that reloads nginx."""

import shlex
from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import File, FindFiles, FindInFile, Link
from pyinfra.operations import files, server, systemd

from camgate import packages, paths
from camgate.inventory import site_from_host
from camgate.render import render
from camgate.tls import certbot_command, letsencrypt_needs_issuing
from roles.facts import LETSENCRYPT_CERTIFICATE, Certificate, before, known_file_state
from roles.operations import UNCHANGED, ensure_packages, ensure_running, put


@deploy("camgate letsencrypt")
def letsencrypt() -> None:
    """Guarantees with tls='letsencrypt': certbot installed; a certificate named `camgate` for
    domain + alt_domains from acme_server, obtained through /var/lib/camgate/acme (served by nginx
    on port 80) and served by nginx; certbot.timer enabled; the renewal deploy hook runs `nginx -t`
    and reloads nginx. certbot is called only when the certificate is missing or its names or its
    ACME server changed: a re-deploy never contacts the CA.
    With any other tls (see remove_letsencrypt): the `camgate` certificate deleted with certbot (with
    tls='off' also /etc/camgate/tls/current, which pointed at it), the hook, the certbot.service
    drop-in and the ACME CA bundle gone, certbot.timer stopped and disabled unless certbot has other
    certificates to renew; certbot stays installed.
    Reads: tls, domain, alt_domains, acme_email, acme_server, acme_ca_bundle."""
    gateway = site_from_host(host)
    if gateway.tls != "letsencrypt":
        remove_letsencrypt(gateway)
        return
    ensure_packages("Install certbot", packages.CERTBOT)
    put(
        name="certbot deploy hook: reload nginx",
        content=render("letsencrypt/renewal-hooks/deploy/camgate-reload-nginx.j2"),
        dest=paths.LETSENCRYPT_RENEWAL_HOOK,
        mode="0755",
    )
    env = {}
    if gateway.acme_ca_bundle:
        env["REQUESTS_CA_BUNDLE"] = paths.ACME_CA_BUNDLE
        put(name="ACME server CA bundle", content=Path(gateway.acme_ca_bundle).read_text(), dest=paths.ACME_CA_BUNDLE)
    if gateway.acme_ca_bundle:
        dropin = put(
            name="certbot.timer renewals trust the ACME server",
            content=render("systemd/certbot.service.d/camgate.conf.j2"),
            dest=paths.CERTBOT_DROPIN,
        )
    elif known_file_state(paths.CERTBOT_DROPIN)[1] is None:
        dropin = UNCHANGED
    else:
        dropin = files.file(name="No certbot CA override", path=paths.CERTBOT_DROPIN, present=False)
    systemd.daemon_reload(name="Reload systemd (certbot drop-in)", _if=dropin.did_change)

    # As the host was before the deploy (roles.tls read the same, from the deploy's snapshot).
    cert = before(Certificate, path=LETSENCRYPT_CERTIFICATE)
    renewal = before(FindInFile, path=paths.LETSENCRYPT_RENEWAL_CONF, pattern="^server")
    current = (before(Link, path=paths.TLS_CURRENT) or {}).get("link_target")
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
    ensure_running("certbot.timer renews", paths.CERTBOT_TIMER)


def remove_letsencrypt(gateway) -> None:
    """tls is not 'letsencrypt' (any more): delete what that mode left, nothing else. On a host that
    never used it (no `camgate` renewal config, hook, drop-in or CA bundle) no operation at all."""
    lineage = bool(before(File, path=paths.LETSENCRYPT_RENEWAL_CONF))
    # The hook goes last: while it is there, a re-deploy finishes an interrupted clean-up. All three
    # are in camgate's file snapshot (roles.facts.MANAGED_FOLDERS).
    leftovers = [
        path
        for path in (paths.ACME_CA_BUNDLE, paths.CERTBOT_DROPIN, paths.LETSENCRYPT_RENEWAL_HOOK)
        if known_file_state(path)[1] is not None
    ]
    # roles.tls has pointed `current` elsewhere already, except with tls='off': then it goes, so that
    # turning TLS on again starts from a placeholder, never from a link to a deleted certificate.
    current = (before(Link, path=paths.TLS_CURRENT) or {}).get("link_target")
    unlink = not gateway.https and current == paths.LETSENCRYPT_LIVE
    if not (lineage or leftovers or unlink):
        return
    if unlink:
        files.link(name=f"Unlink {paths.TLS_CURRENT} (tls off)", path=paths.TLS_CURRENT, present=False)
    if lineage:
        # certbot removes live/, archive/ and renewal/ of the lineage together.
        server.shell(
            name="Delete the Let's Encrypt certificate (certbot delete)",
            commands=[shlex.join(["certbot", "delete", "--cert-name", paths.CERTBOT_CERT_NAME, "--non-interactive"])],
        )
    renewals = host.get_fact(FindFiles, path=paths.LETSENCRYPT_RENEWAL_DIR, fname="*.conf", maxdepth=1) or []
    if not [path for path in renewals if path != paths.LETSENCRYPT_RENEWAL_CONF]:
        systemd.service(
            name="certbot.timer stops (nothing left to renew)", service=paths.CERTBOT_TIMER, running=False, enabled=False
        )
    for path in leftovers:
        files.file(name=f"Remove {path}", path=path, present=False)
    if paths.CERTBOT_DROPIN in leftovers:
        systemd.daemon_reload(name="Reload systemd (certbot drop-in removed)")
