"""Generate docs/inventory.md from the model, so the reference cannot drift from the code.

    python -m camgate.docs > docs/inventory.md
"""

from camgate.model import APP_USER_SPECS, CAMERA_SPECS, EDGE_SHARED_FIELDS, EDGE_SPECS, GATEWAY_SPECS, Spec

HEADER = """# Inventory reference

Generated from `camgate/model.py` by `python -m camgate.docs > docs/inventory.md`; a unit test fails
when this page and the model disagree. `inventory/prod.py` is a commented example using every field.

A gateway is declared in an inventory file with `camgate.inventory.gateway(host, **fields)` and its
cameras with `camgate.inventory.camera(id, url=..., **fields)`. Validation runs when pyinfra loads the
file: any bad value stops the run before an SSH connection is opened, with one line per problem that
names the host, the camera, the field and the fix.

`gateway()` also takes the SSH settings pyinfra uses: `ssh_user`, `ssh_port`, `ssh_key` and
`ssh_known_hosts_file` (which turns on strict host key checking).
"""


def _table(specs: tuple[Spec, ...]) -> str:
    rows = ["| field | default | meaning |", "| --- | --- | --- |"]
    for spec in specs:
        default = "required" if spec.required else f"`{spec.default!r}`"
        rows.append(f"| `{spec.name}` | {default} | {spec.doc} |")
    return "\n".join(rows)


EDGE_INTRO = """A caching edge (docs/edges.md) is declared with `camgate.inventory.edge(host, **fields)` and listed
in the `edges` of each gateway it fronts; `camgate.inventory.edges_of(gateways)` turns those into the
inventory's edge hosts. `edge()` takes the same SSH settings as `gateway()`."""


def inventory_reference() -> str:
    own = tuple(spec for spec in EDGE_SPECS if spec.name not in EDGE_SHARED_FIELDS and spec.name != "ssh")
    return (
        f"{HEADER}\n## Gateway fields\n\n{_table(GATEWAY_SPECS)}\n\n"
        f"## Camera fields\n\n{_table(CAMERA_SPECS)}\n\n"
        f"## App user fields\n\n{_table(APP_USER_SPECS)}\n\n"
        f"## Edge fields\n\n{EDGE_INTRO}\n\n{_table(own)}\n\n"
        f"An edge also takes these gateway fields, with the same defaults and meaning for the edge itself: "
        f"{', '.join(f'`{name}`' for name in EDGE_SHARED_FIELDS)}.\n"
    )


if __name__ == "__main__":
    print(inventory_reference(), end="")
