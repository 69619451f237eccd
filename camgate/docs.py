"""Generate docs/inventory.md from the model, so the reference cannot drift from the code.

    python -m camgate.docs > docs/inventory.md
"""

from camgate.model import APP_USER_SPECS, CAMERA_SPECS, GATEWAY_SPECS, Spec

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


def inventory_reference() -> str:
    return (
        f"{HEADER}\n## Gateway fields\n\n{_table(GATEWAY_SPECS)}\n\n"
        f"## Camera fields\n\n{_table(CAMERA_SPECS)}\n\n"
        f"## App user fields\n\n{_table(APP_USER_SPECS)}\n"
    )


if __name__ == "__main__":
    print(inventory_reference(), end="")
