"""The `camgate` command line, run on the operator's machine. One module per concern:

- prepare: validate, plan (no host touched)
- site: init, camera add|remove|list (the site's files)
- streams: urls, sign, rotate-url-secret, hash-password, tls-ca
- inspect: probe, status, verify (running gateways, over SSH)
- testbed: the local testbed of a source checkout (loaded only when that command runs)
- common: exit codes, errors, inventory loading and tables shared by all of them
"""

from camgate.cli.main import main

__all__ = ["main"]
