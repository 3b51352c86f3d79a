"""The package boundaries of docs/architecture.md, checked on the source (no package is imported).

* no package imports another package's private (``_``-prefixed) module;
* outside fermi-ingest, ``fermi_ingest`` is imported only for Level-0 code;
* no import cycle inside any package (imports inside functions count: a lazy import that
  closes a cycle is still a cycle);
* nothing writes ``os.environ`` to pass settings on;
* the data-tree layout (the top folders of the data home, the run token ``r%010d`` that names
  run folders and appears in product names) is built only by :mod:`fermi_core.site`;
* one definition of: the SHA-256 of a file, the atomic write, the SAA polygon, TLE propagation
  and the APID table.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {p.name: p for p in sorted((ROOT / "packages").iterdir()) if (p / "src").is_dir()}

#: what "Level-0 code" of fermi-ingest is: packets, datagram headers, the delivery registry and
#: manifests, what ingest publishes for the halfpipe, its task and its errors
LEVEL0_MODULES = (
    "fermi_ingest.ccsds",
    "fermi_ingest.datagram_header",
    "fermi_ingest.manifest",
    "fermi_ingest.models",
    "fermi_ingest.published",
    "fermi_ingest.ingest",
    "fermi_ingest.errors",
    "fermi_ingest.synthetic",
    "fermi_ingest.task",
    "fermi_ingest.cli",
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported (a submodule when ``from pkg import sub``)
    path: Path
    line: int


def _modules(package_dir: Path) -> dict[str, Path]:
    out = {}
    for path in sorted((package_dir / "src").rglob("*.py")):
        rel = path.relative_to(package_dir / "src").with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


ALL_MODULES: dict[str, Path] = {m: p for d in PACKAGES.values() for m, p in _modules(d).items()}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: list[Import] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend(Import(module, a.name, path, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                sub = f"{target}.{a.name}"
                out.append(Import(module, sub if sub in ALL_MODULES else target, path, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


IMPORTS = [imp for m, p in ALL_MODULES.items() for imp in _imports(m, p)]


def _top(module: str) -> str:
    return module.split(".")[0]


def _where(imp: Import) -> str:
    return f"{imp.path.relative_to(ROOT)}:{imp.line}: {imp.module} imports {imp.target}"


def test_every_package_was_read():
    assert {_top(m) for m in ALL_MODULES} >= {
        "fermi_core", "fermi_ingest", "fermi_halfpipe", "fermi_l1", "fermi_latsim", "fermi_isoc",
        "fermi_sciencetools_shim",
    }  # fmt: skip
    assert len(IMPORTS) > 500


def test_no_package_imports_another_packages_private_module():
    bad = [
        _where(i)
        for i in IMPORTS
        if i.target.startswith("fermi_")
        and _top(i.target) != _top(i.module)
        and any(part.startswith("_") and part != "__init__" for part in i.target.split(".")[1:])
    ]
    assert bad == []


def test_fermi_ingest_is_imported_only_for_level0_code():
    bad = [
        _where(i)
        for i in IMPORTS
        if _top(i.target) == "fermi_ingest"
        and _top(i.module) != "fermi_ingest"
        and not any(i.target == m or i.target.startswith(m + ".") for m in LEVEL0_MODULES)
    ]
    assert bad == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycle_inside_a_package(package):
    mods = set(_modules(PACKAGES[package]))
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for i in IMPORTS:
        if i.module in mods and i.target in mods and i.target != i.module:
            graph[i.module].add(i.target)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


_SOURCES = {m: p.read_text(encoding="utf-8") for m, p in ALL_MODULES.items()}
_ENV_WRITE = re.compile(r"os\.environ\[[^\]]+\]\s*=(?!=)|os\.environ\.(setdefault|update|pop)\(|os\.putenv\(")


def test_nothing_writes_os_environ():
    bad = [
        f"{ALL_MODULES[m].relative_to(ROOT)}:{n}: {line.strip()}"
        for m, src in _SOURCES.items()
        for n, line in enumerate(src.splitlines(), 1)
        if _ENV_WRITE.search(line)
    ]
    assert bad == []


_LAYOUT = re.compile(
    r"""(/\s*["'](inbox|archive|quarantine|chunks|halfpipe|runs|l1|outbox|products|inputs|work|logs|level0)["'])"""
    r"""|(r\{[^}]*:010d\})|(r%010d)"""
)


def test_the_data_tree_is_built_only_by_site():
    bad = [
        f"{ALL_MODULES[m].relative_to(ROOT)}:{n}: {line.strip()}"
        for m, src in _SOURCES.items()
        if m != "fermi_core.site" and not m.startswith("fermi_latsim")  # the simulator's own output tree
        for n, line in enumerate(src.splitlines(), 1)
        if _LAYOUT.search(line) and not line.lstrip().startswith("#")
    ]
    assert bad == []


def _defining(pattern: str) -> list[str]:
    rx = re.compile(pattern, re.M)
    return sorted(m for m, src in _SOURCES.items() if rx.search(src))


def test_one_sha256_of_a_file():
    # a loop feeding hashlib.sha256 from a file handle (the verified copy hashes the bytes it
    # copies, so each byte is read once), or hashing a whole file read at once
    assert _defining(r"\.update\((block|chunk)\)") == ["fermi_core.atomic", "fermi_core.checksum"]
    assert _defining(r"sha256\([^)]*read_bytes\(\)") == []


def test_one_atomic_write():
    # files: the shim's atomic_output; folders: fermi_core.atomic.atomic_directory
    assert _defining(r"^\s*os\.(replace|rename)\(") == ["fermi_core.atomic", "fermi_sciencetools_shim.atomic"]
    assert _defining(r"mkstemp\(") == ["fermi_sciencetools_shim.atomic"]


def test_one_saa_polygon_tle_propagation_and_apid_table():
    assert _defining(r"^\s*from sgp4") == ["fermi_core.mission.orbit"]
    assert len(_defining(r"^(SAA_POLYGON|LAT_SAA\w*|SAA_VERTICES)\s*=")) == 1
    # the vertices are data (fermi_core/mission/saa_polygons/*.toml), in no module's source
    assert _defining(r"33\.9,\s*24\.5,\s*-18\.6") == []
    assert len(_defining(r"^(APID_\w+|\w*APIDS)\s*=\s*[\(\[{0-9]")) == 1


def test_stages_read_what_the_stage_before_publishes():
    # the halfpipe takes packets from fermi_ingest.published, never by decoding the archive or
    # querying ingest's tables; Level 1 takes runs from fermi_halfpipe.published, never its tables
    rules = {
        "fermi_halfpipe": ("fermi_ingest.ccsds.decode", "fermi_ingest.models", "fermi_ingest.ingest"),
        "fermi_l1": ("fermi_halfpipe.models", "fermi_halfpipe.store", "fermi_halfpipe.stitch"),
        "fermi_isoc": ("fermi_halfpipe.models", "fermi_l1.pipeline"),
    }
    bad = [
        _where(i)
        for i in IMPORTS
        for reader, forbidden in rules.items()
        if _top(i.module) == reader and any(i.target == f or i.target.startswith(f + ".") for f in forbidden)
    ]
    assert bad == []
