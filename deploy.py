"""Roll out camgate: `pyinfra inventory/<site>.py deploy.py`. Composition only: a gateway gets every
role, a caching edge (docs/edges.md) the ones it shares with gateways and its own."""

from pyinfra import host

from camgate.inventory import is_edge, site_from_host
from roles.base import base, gateway_packages
from roles.cameras import cameras
from roles.deployed import deployed
from roles.edge import edge
from roles.ffmpeg import ffmpeg
from roles.firewall import firewall
from roles.health import health
from roles.letsencrypt import letsencrypt
from roles.metrics import metrics, metrics_first_start
from roles.nginx import nginx
from roles.recordings import recordings
from roles.tls import tls
from roles.turn import turn
from roles.webrtc import webrtc

site_from_host(host)  # validate before the first operation; a bad value stops here

base()
metrics_first_start()  # node exporter's (and mtail's) files before their packages start them
gateway_packages()  # one apt run, those two included
firewall()
if is_edge(host):
    tls()  # before nginx: the certificate nginx refers to exists from the first run on
    edge()
    metrics()  # after tls: it reads the certificate; after edge: mtail reads the edge's access log
    letsencrypt()  # after nginx: the ACME challenge is served from nginx's webroot
else:
    ffmpeg()
    recordings()  # before cameras: a recording camera's unit needs its folder
    health()
    tls()
    webrtc()  # before nginx: its TURN secret include exists before nginx's config names it
    turn()  # after tls: coturn serves TURN over TLS with the gateway's certificate
    metrics()  # after health and tls: it runs after every health run and reads the certificate
    cameras()  # after every package install: starting many cameras at once would slow them down
    nginx()
    letsencrypt()
deployed()  # last: only a deploy that got this far is recorded
