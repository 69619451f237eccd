"""The local testbed: a systemd-nspawn Debian host and simulated RTSP cameras on this machine.

Bring it up with `camgate testbed up` (make demo does), then `pyinfra inventory/testbed.py deploy.py`.
$CAMGATE_TESTBED_CAMERAS=cam1,cam2 deploys a subset (the tests use it to remove a camera).
"""

from camgate.testbed_inventory import testbed_gateway

gateways = [testbed_gateway()]
