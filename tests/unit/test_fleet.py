"""`camgate status` and `verify` over a fleet: gateways are asked at once, reported in order."""

import threading
import time

from camgate import remote
from camgate.cli.inspect import in_parallel


def test_gateways_are_asked_at_once_and_reported_in_inventory_order():
    entries = [(f"gw{n}", {"delay": 0.3 - n * 0.1}) for n in range(3)]
    running, most = [0], [0]
    lock = threading.Lock()

    def work(name, data):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(data["delay"])
        with lock:
            running[0] -= 1
        if name == "gw1":
            raise remote.RemoteError("gw1: cannot connect over SSH")
        return name.upper()

    assert in_parallel(work, entries) == [("GW0", None), (None, "gw1: cannot connect over SSH"), ("GW2", None)]
    assert most[0] == 3  # all three at once, not one after the other
