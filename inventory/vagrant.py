"""A local Debian 12 VM as the gateway: the Vagrantfile at the top of the repository.

    vagrant up
    pyinfra -y inventory/vagrant.py deploy.py
    camgate verify inventory/vagrant.py

pyinfra's @vagrant connector finds the running machine "camgate" (`vagrant ssh-config`) and the
SSH key Vagrant made for it (under .vagrant/, or $VAGRANT_DOTFILE_PATH as for Vagrant). The VM's
host key is recorded beside that key, so a destroyed and re-created VM starts with a clean slate. The settings below then send SSH to the VM's own address and port
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
    dotfiles = Path(os.environ.get("VAGRANT_DOTFILE_PATH") or _ROOT / ".vagrant")
    keys = sorted((dotfiles / "machines" / MACHINE).glob("*/private_key"))
    return str(keys[0]) if keys else None


def _known_hosts(key):
    """Beside the machine's key: `vagrant destroy` removes both."""
    return str(Path(key).with_name("known_hosts")) if key else None


_user = os.environ.get("CAMGATE_VAGRANT_CAMERA_USER")
_credentials = {"username": _user, "password_ref": "env:CAMGATE_VAGRANT_CAMERA_PASSWORD"} if _user else {}

_key = _machine_key()
_host, _data = gateway(
    f"@vagrant/{MACHINE}",
    ssh_user="root",
    ssh_port=22,
    ssh_key=_key,
    ssh_known_hosts_file=_known_hosts(_key),
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
# A new VM's host key is trusted on first use, as `vagrant ssh` does, then held to.
if _key:
    _data["ssh_strict_host_key_checking"] = "accept-new"

gateways = [(_host, _data)]
