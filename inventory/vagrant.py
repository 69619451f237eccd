"""A local Ubuntu 24.04 VM as the gateway: the Vagrantfile at the top of the repository.

    vagrant up
    pyinfra -y inventory/vagrant.py deploy.py
    camgate verify inventory/vagrant.py

pyinfra's @vagrant connector finds the running machine "camgate" (`vagrant ssh-config`) and the
SSH key Vagrant made for it. The settings below then send SSH to the VM's own address and port
(192.168.56.10:22) as root (the Vagrantfile lets that key log in as root), rather than through
Vagrant's forwarded 127.0.0.1:2222: the firewall role opens the SSH port the deploy uses, and 2222
is not the port sshd listens on in the VM. camgate's own commands (urls, verify, status, tls-ca)
connect the same way.

The camera: $CAMGATE_VAGRANT_CAMERA_URL, by default a fake camera on this machine as the VM sees
it (rtsp://192.168.56.1:8554/cam1, see docs/onboarding.md); with $CAMGATE_VAGRANT_CAMERA_USER set,
the password comes from $CAMGATE_VAGRANT_CAMERA_PASSWORD.
"""

import os
from pathlib import Path

from camgate.inventory import camera, gateway

MACHINE = "camgate"  # config.vm.define in the Vagrantfile
ADDRESS = "192.168.56.10"  # its private_network address
_ROOT = Path(__file__).resolve().parent.parent


def _machine_key():
    """The key `vagrant up` made for the machine; None before that (the connector then has it)."""
    keys = sorted((_ROOT / ".vagrant" / "machines" / MACHINE).glob("*/private_key"))
    return str(keys[0]) if keys else None


_user = os.environ.get("CAMGATE_VAGRANT_CAMERA_USER")
_credentials = {"username": _user, "password_ref": "env:CAMGATE_VAGRANT_CAMERA_PASSWORD"} if _user else {}

_host, _data = gateway(
    f"@vagrant/{MACHINE}",
    ssh_user="root",
    ssh_port=22,
    ssh_key=_machine_key(),
    domain=ADDRESS,
    tls="selfsigned",  # a LAN-only gateway: `camgate tls-ca inventory/vagrant.py` prints its CA
    cameras=[
        camera(
            "cam1",
            name="Vagrant test camera",
            url=os.environ.get("CAMGATE_VAGRANT_CAMERA_URL", "rtsp://192.168.56.1:8554/cam1"),
            **_credentials,
        ),
    ],
)
# Host data wins over what the connector reports (its 127.0.0.1 and forwarded port).
_data["ssh_hostname"] = ADDRESS

gateways = [(_host, _data)]
