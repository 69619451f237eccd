"""The code's rooms keep their rules: gateway-side code is standard library only, the product package
has no import cycle and never loads test infrastructure."""

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from camgate import paths

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "camgate"
GATEWAY_SIDE = sorted(p for p in (PACKAGE / "gateway").glob("*.py") if p.name != "__init__.py")
# What runs the scripts on a gateway: the distribution's python3 (Debian's where this runs).
HOST_PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
# The one exception to "standard library only": the WebRTC engine drives the distribution's GStreamer
# through python3-gi (camgate.packages.WEBRTC), found in the distribution's site-packages.
DISTRIBUTION_IMPORTS = {"webrtc.py": {"gi", "gi.repository"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved), from its syntax tree."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # `from camgate import paths` imports the module camgate.paths; `from camgate.model import
            # Camera` the module camgate.model (a package's __init__ runs implicitly either way).
            submodules = {f"{base}.{alias.name}" for alias in node.names} & MODULES
            found.update(submodules or {base})
    return found


def product_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


MODULES = set(product_modules())


def uploaded_name(module: str) -> str:
    """The module name a gateway-side module has on the gateway (its file name there, minus .py); one
    sent over SSH instead of installed (discovery) keeps its own."""
    return Path(paths.GATEWAY_CODE.get(module, f"{module}.py")).name.removesuffix(".py")


@pytest.mark.parametrize("script", GATEWAY_SIDE, ids=lambda p: p.name)
def test_gateway_side_code_imports_only_the_standard_library_and_its_siblings(script, tmp_path):
    siblings = {f"camgate.gateway.{p.stem}" for p in GATEWAY_SIDE} | {"camgate.gateway"}
    siblings |= {uploaded_name(p.stem) for p in GATEWAY_SIDE}
    allowed = siblings | {"camgate"} | DISTRIBUTION_IMPORTS.get(script.name, set())
    foreign = {name for name in imports_of(script) - allowed if name.split(".")[0] not in sys.stdlib_module_names}
    assert not foreign, f"{script.name} imports {sorted(foreign)}"
    # And it really loads as the gateway runs it: every module under its uploaded name in one folder,
    # the distribution's python3 without site-packages, the script's folder first on sys.path.
    for module in GATEWAY_SIDE:
        shutil.copy(module, tmp_path / f"{uploaded_name(module.stem)}.py")
    uploaded = tmp_path / f"{uploaded_name(script.stem)}.py"
    load = f"import runpy, sys; sys.path.insert(0, {str(tmp_path)!r}); runpy.run_path({str(uploaded)!r}, run_name='loaded')"
    no_site = [] if script.name in DISTRIBUTION_IMPORTS else ["-S"]
    result = subprocess.run([HOST_PYTHON, *no_site, "-c", load], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


EDGE_SIDE = sorted(p for p in (PACKAGE / "edgehost").glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("script", EDGE_SIDE, ids=lambda p: p.name)
def test_edge_side_code_is_standard_library_only_and_runs_as_sent(script):
    foreign = {name for name in imports_of(script) if name.split(".")[0] not in sys.stdlib_module_names}
    assert not foreign, f"{script.name} imports {sorted(foreign)}"
    # `camgate status` runs it as `python3 -c <its text>` on the edge: no file, no package around it.
    load = f"import sys; sys.argv = ['-c']; exec(compile({script.read_text()!r}, '<edge>', 'exec'), {{'__name__': 'loaded'}})"
    result = subprocess.run([HOST_PYTHON, "-S", "-c", load], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_the_product_package_has_no_import_cycle():
    modules = product_modules()
    graph = {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}
    # A package's own __init__ is imported implicitly by its submodules; only written imports count.
    visiting, done, cycles = [], set(), []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycles.append(visiting[visiting.index(name):] + [name])
            return
        visiting.append(name)
        for target in sorted(graph[name]):
            visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_product_package_never_imports_test_infrastructure():
    offenders = {name: sorted(m for m in imports_of(path) if m == "tests" or m.startswith("tests."))
                 for name, path in product_modules().items()}  # fmt: skip
    # The `camgate testbed` command is the one door, opened only when that command runs.
    offenders.pop("camgate.cli.testbed", None)
    assert not {k: v for k, v in offenders.items() if v}


def test_the_cli_loads_no_test_infrastructure_and_no_gateway_side_code():
    code = "import sys, json, camgate.cli.main; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/")
    loaded = json.loads(result.stdout)
    assert not [m for m in loaded if m == "tests" or m.startswith("tests.")]
    assert "camgate.testbed" not in loaded


def test_a_role_imports_no_other_role_only_the_shared_facts_and_operations():
    for path in (ROOT / "roles").glob("*.py"):
        others = {m.split(".")[1] for m in imports_of(path) if m.startswith("roles.")} - {"facts", "operations"}
        assert not others, f"{path.name} imports roles {sorted(others)}; shared names belong in camgate.paths or roles.facts"
