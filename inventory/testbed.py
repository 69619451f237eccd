"""The local testbed: a systemd-nspawn Debian host and simulated RTSP cameras on this machine.

Bring it up with `camgate testbed up` (make demo does), then `pyinfra inventory/testbed.py deploy.py`.
$CAMGATE_TESTBED_CAMERAS=cam1,cam2 deploys a subset (the tests use it to remove a camera);
$CAMGATE_TESTBED_DIR=dir1,dir2 declares one gateway per testbed (the tests deploy two at once);
$CAMGATE_TESTBED_EDGE_DIR=dir makes that testbed a caching edge of the gateway(s) (docs/edges.md).
Other knobs the tests turn: see tests/testbed/inventory.py.
"""

from tests.testbed.inventory import testbed_dirs, testbed_edges, testbed_gateway

gateways = [testbed_gateway(state_dir) for state_dir in testbed_dirs()]
edges = testbed_edges(gateways)
