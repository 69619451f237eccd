"""Roll out a camgate gateway: `pyinfra inventory/<site>.py deploy.py`. Composition only."""

from pyinfra import host

from camgate.inventory import gateway_from_host
from roles.base import base
from roles.cameras import cameras
from roles.ffmpeg import ffmpeg
from roles.nginx import nginx

gateway_from_host(host)  # validate before the first operation; a bad value stops here

base()
ffmpeg()
cameras()
nginx()
