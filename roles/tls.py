"""TLS material: the certificate nginx serves always exists before nginx is told about it."""

import shlex

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import Link
from pyinfra.operations import files, server

from camgate import packages, paths
from camgate.inventory import site_from_host
from camgate.render import render
from camgate.tls import SELFSIGNED_DAYS, certificate_matches, wanted_tls_dir
from roles.facts import (
    LETSENCRYPT_CERTIFICATE, PROVIDED_CERTIFICATE, PROVIDED_KEY, SELFSIGNED_CERTIFICATE, Certificate, PathStates, before,
    directory_state,
)  # fmt: skip
from roles.operations import ensure_packages, put_many


@deploy("camgate tls")
def tls() -> None:
    """Guarantees, unless tls='off': openssl installed; the ACME webroot /var/lib/camgate/acme;
    /etc/camgate/tls/current -> a directory with fullchain.pem and privkey.pem:
    - selfsigned: a certificate for domain + alt_domains from the gateway's own CA (re-made when the
      names change or it nears expiry);
    - provided: links to tls_certificate and tls_key;
    - letsencrypt: the certbot lineage once it carries the wanted names; before the first issuance a
      self-signed placeholder, so nginx can start and serve the HTTP-01 challenge (roles.letsencrypt
      then issues and switches).
    Switching reloads nginx only if it runs and accepts its configuration.
    Reads: tls, domain, alt_domains, tls_certificate, tls_key."""
    gateway = site_from_host(host)
    if not gateway.https:
        return
    ensure_packages("Install openssl", packages.OPENSSL)
    present = before(PathStates, paths=(paths.TLS_DIR, paths.ACME_WEBROOT))
    for name, path in ((paths.TLS_DIR, paths.TLS_DIR), ("ACME webroot", paths.ACME_WEBROOT)):
        if present.get(path) != directory_state("0755", "root", "root"):
            files.directory(name=name, path=path, user="root", group="root", mode="0755")
    put_many("TLS scripts", [
        (f"Script {script.rsplit('/', 1)[-1]}", script, render(template, **context), "0755", "root", "root")
        for script, template, context in (
            (paths.TLS_SELFSIGNED_SCRIPT, "bin/camgate-tls-selfsigned.j2", {"days": SELFSIGNED_DAYS}),
            (paths.TLS_USE_SCRIPT, "bin/camgate-tls-use.j2", {}),
        )
    ])

    # The link and both certificates come with the deploy's snapshot (roles.facts.snapshot).
    current = (before(Link, path=paths.TLS_CURRENT) or {}).get("link_target")
    lineage = before(Certificate, path=LETSENCRYPT_CERTIFICATE)
    letsencrypt_ready = lineage is not None and set(lineage["names"]) == set(gateway.certificate_names)
    wanted = wanted_tls_dir(gateway, letsencrypt_ready)
    if gateway.tls == "letsencrypt" and not letsencrypt_ready and current:
        wanted = current  # keep serving what works until roles.letsencrypt has the new certificate

    if gateway.tls == "provided":
        provided = paths.TLS_PROVIDED
        if before(PathStates, paths=(provided,)).get(provided) != directory_state("0755", "root", "root"):
            files.directory(name=provided, path=provided, user="root", group="root", mode="0755")
        for name, link, target in (("Provided certificate", PROVIDED_CERTIFICATE, gateway.tls_certificate),
                                   ("Provided key", PROVIDED_KEY, gateway.tls_key)):  # fmt: skip
            if (before(Link, path=link) or {}).get("link_target") != target:
                files.link(name=name, path=link, target=target)

    remake_selfsigned = wanted == paths.TLS_SELFSIGNED and not certificate_matches(
        before(Certificate, path=SELFSIGNED_CERTIFICATE), gateway.certificate_names
    )
    if remake_selfsigned:
        server.shell(
            name="Self-signed certificate from the gateway CA",
            commands=[shlex.join([paths.TLS_SELFSIGNED_SCRIPT, *gateway.certificate_names])],
        )
    if wanted and (wanted != current or remake_selfsigned):
        server.shell(name=f"Serve the certificate in {wanted}", commands=[shlex.join([paths.TLS_USE_SCRIPT, wanted])])
