"""The shape of the code, checked: imports flow one way (``scanner`` uses ``detectors``, never
back), module-level imports form no circle, the application names no detector, and a container
format or a detector is one declaration away from being known everywhere."""

from __future__ import annotations

import ast
from pathlib import Path

from detectors.formats import registry
from detectors.model import KINDS
from detectors.registry import load_all

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("detectors", "scanner")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _top_level_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Modules of ours imported at module level (not inside functions or TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                    + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            else:
                continue
            for t in targets:
                while t and t not in known:
                    t = t.rsplit(".", 1)[0] if "." in t else ""
                if t and t != name:
                    found.add(t)
    visit(tree.body)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _top_level_imports(path, name, set(mods)) for name, path in mods.items()}


def test_detectors_never_import_scanner() -> None:
    graph = _graph()
    bad = {m: sorted(d for d in deps if d.startswith("scanner"))
           for m, deps in graph.items() if m.startswith("detectors")}
    assert {m: d for m, d in bad.items() if d} == {}
    for path in (ROOT / "detectors").rglob("*.py"):  # function-level imports too
        assert "import scanner" not in path.read_text() and "from scanner" not in \
            path.read_text(), path


def test_module_level_imports_form_no_circle() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            # a package imports its own modules (re-exports): that is not a circle
            if dep.startswith(node + "."):
                continue
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if state.get(dep) is None:
                cycle = dfs(dep)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            cycle = dfs(node)
            assert cycle is None, " -> ".join(cycle)


def test_the_application_names_no_detector() -> None:
    """scanner/ asks the registry; only the register's own management command imports a
    detector's package (it builds the register file)."""
    allowed = {"register_cmd.py"}
    for path in (ROOT / "scanner").rglob("*.py"):
        if path.name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = ([node.module] if isinstance(node, ast.ImportFrom) and node.module
                       else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for module in modules:
                assert not module.startswith(("detectors.c2pa", "detectors.metadata",
                                              "detectors.watermark", "detectors.register",
                                              "detectors.rules", "detectors.fingerprint")), (
                    path, module)


def test_every_builtin_detector_is_an_entry_point_declaring_its_rules_and_options() -> None:
    loaded = load_all(include_plugins=False)
    assert [d.name for d in loaded] == ["c2pa", "metadata", "watermark", "register"]
    for item in loaded:
        assert item.source == "builtin" and item.detector is not None
        rules = item.detector.rules()
        assert rules and all(r.detector == item.name for r in rules), item.name
        assert len({r.id for r in rules}) == len(rules), item.name


def test_every_format_module_declares_what_it_can_do() -> None:
    """Each native container is one module: recognition, media types, walk, C2PA visitor."""
    mods = registry.format_modules()
    assert {"png", "jpeg", "gif", "riff", "tiff", "bmff", "mp3", "flac", "ogg"} <= set(mods)
    seen: set[str] = set()
    for fmt in registry.formats():
        for media_type, kind in fmt.kinds.items():
            assert media_type not in seen or media_type == "image/jxl", media_type
            seen.add(media_type)
            assert kind in KINDS, (media_type, kind)
        assert fmt.accept(b"") is None, fmt.id
    natives = [f for f in registry.formats() if f.read is not None]
    # every native container c2pa-rs reads has a C2PA visitor (it reads no Ogg, AIFF, EXR, DPX)
    no_c2pa = {"ogg", "aiff", "exr", "dpx", "cineon"}
    assert all(f.c2pa is not None for f in natives if f.id not in no_c2pa)
