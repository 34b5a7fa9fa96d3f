"""The house's rooms and the one-way arrows between them (docs/architecture.md), checked on the code.

Every `import` in indexer/, kbserver/ and kbbench/ is read with `ast` (at module level and
inside functions alike: a function-level import is still an arrow), each module is put in
its room, and a test fails on an import the table below does not allow, or on any import
circle between modules. README's layout table is checked against the folders it names.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("indexer", "kbserver", "kbbench")

# Longest prefix wins: `kbserver.api.search` is in the room `api`, `kbserver` itself is `app`.
ROOMS = {
    "indexer": "indexer",
    "kbserver": "app",
    "kbserver.config": "config",
    "kbserver.errors": "errors",
    "kbserver.retrieval": "retrieval",
    "kbserver.store": "store",
    "kbserver.access": "access",
    "kbserver.runtime": "runtime",
    "kbserver.service": "service",
    "kbserver.api": "api",
    "kbserver.web": "web",
    "kbserver.cli": "cli",
    "kbbench": "bench",
}
# Which rooms each room may import (its own room is always allowed). The data flows one way:
# index and database at the bottom, the service above them, the two HTTP edges on top.
BELOW_SERVICE = {"runtime", "retrieval", "store", "access", "errors", "config", "indexer"}
MAY_IMPORT = {
    "indexer": set(),
    "config": {"indexer"},  # indexer.embedding.PRECISIONS, inside one function
    "errors": set(),
    "retrieval": {"indexer", "config"},
    "store": {"indexer", "config"},
    "access": {"store", "errors", "config"},
    "runtime": {"retrieval", "indexer", "config"},
    "service": BELOW_SERVICE,
    "api": {"service"} | BELOW_SERVICE,
    "web": {"service"} | BELOW_SERVICE,
    "app": {"api", "web"} | BELOW_SERVICE,
    "cli": {"app", "service", "api", "web", "bench"} | BELOW_SERVICE,
    "bench": {"retrieval", "indexer", "config"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


MODULES = all_modules()


def imports_of(name: str, path: Path) -> set[str]:
    """The kb modules `name` imports, anywhere in the file (`from a import b` is `a.b` when that is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def room_of(module: str) -> str:
    best = max((prefix for prefix in ROOMS if module == prefix or module.startswith(prefix + ".")), key=len)
    return ROOMS[best]


def test_every_module_has_a_room():
    assert set(MAY_IMPORT) == set(ROOMS.values())
    assert all(room_of(m) for m in MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_only_down(module):
    room = room_of(module)
    wrong = sorted(t for t in GRAPH[module] if room_of(t) != room and room_of(t) not in MAY_IMPORT[room])
    assert not wrong, f"{module} ({room}) imports {wrong}: {room} may import only {sorted(MAY_IMPORT[room])}"


def test_there_is_no_import_circle():
    # Tarjan's strongly connected components: any component of two or more modules is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_the_page_and_the_api_do_not_import_each_other():
    for module, targets in GRAPH.items():
        room = room_of(module)
        if room in ("api", "web"):
            other = "web" if room == "api" else "api"
            assert not [t for t in targets if room_of(t) == other], f"{module} imports the {other} edge"


# What the service may take from the build side: the article values, the index format, the
# query terms, the model loaders (MiniLM's and the multilingual one), language detection, the examples'
# ANN graph and the Whoosh schema steered searches parse against (plus `chunking.plain_text` for the
# page). Never the parser, lint or the build pipeline: those stay with `kb index`.
SERVER_MAY_USE = {"indexer.article", "indexer.store", "indexer.terms", "indexer.embedding", "indexer.chunking",
                  "indexer.example_index", "indexer.keyword", "indexer.multilingual", "indexer.language"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("kbserver") and room_of(m) != "cli"))
def test_the_service_uses_only_the_stored_side_of_the_indexer(module):
    wrong = sorted(t for t in GRAPH[module] if room_of(t) == "indexer" and t not in SERVER_MAY_USE)
    assert not wrong, f"{module} imports the build side: {wrong}"


def test_retrieval_runs_without_flask_and_the_index_reader_without_yaml():
    """`kb eval` and the API share retrieval/: it must load without the web framework or the article parser."""
    code = (
        "import sys; import kbserver.retrieval.answers, kbserver.retrieval.evaluation, kbserver.retrieval.settings;"
        "print(sorted(m for m in ('flask', 'werkzeug', 'yaml', 'markdown') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def layout_rows() -> dict[str, str]:
    """README's layout table: folder -> the text of its row."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `([^`]+)` \| (.*) \|$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    assert rows, "README.md has no layout table"
    return rows


def test_readme_layout_table_names_only_paths_that_exist():
    for folder, text in layout_rows().items():
        assert (ROOT / folder).exists(), f"README's layout names {folder}, which does not exist"
        for name in re.findall(r"`([\w/]+\.py|\w+/)`", text):
            found = (
                (ROOT / folder / name).exists() or any((ROOT / folder).rglob(name.rstrip("/"))) or (ROOT / name).exists()
            )
            assert found, f"README's layout names {name} under {folder}, which does not exist"


# Folders whose row names every module in them (the cli/ row does not: one module per command).
LISTED_IN_FULL = ("indexer/", "kbserver/", "kbserver/retrieval/", "kbserver/store/", "kbserver/access/",
                  "kbserver/api/", "kbserver/web/")


@pytest.mark.parametrize("folder", LISTED_IN_FULL)
def test_readme_layout_table_names_every_module(folder):
    rows = layout_rows()
    assert folder in rows, f"README's layout table has no row for {folder}"
    named = set(re.findall(r"`([\w/.]+)`", rows[folder]))
    for path in sorted((ROOT / folder).iterdir()):
        if path.name in ("__init__.py", "__pycache__") and folder != "kbserver/":
            continue
        if path.name == "__pycache__" or path.suffix not in (".py", ""):
            continue
        shown = f"{path.name}/" if path.is_dir() else path.name
        assert shown in named, f"README's layout row for {folder} does not mention {shown}"
    for pkg in PACKAGES:
        assert f"{pkg}/" in rows


def test_architecture_page_lists_the_rooms_and_their_arrows_as_the_test_does():
    """docs/architecture.md's table of rooms is the table above, word for word."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    documented = {}
    for line in page.splitlines():
        match = re.match(r"\| \*\*(\w+)\*\* \| [^|]+ \| ([^|]*) \|", line)
        if match:
            documented[match.group(1)] = set(re.findall(r"\w+", match.group(2))) - {"nothing"}
    assert documented == MAY_IMPORT


DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_name_only_modules_and_folders_that_exist(doc):
    """A moved module must not leave a doc pointing at where it used to be."""
    text = doc.read_text(encoding="utf-8")
    for path in sorted(set(re.findall(r"`((?:indexer|kbserver|kbbench)/[\w/]*?(?:\.py|/))`", text))):
        assert (ROOT / path).exists(), f"{doc.name} names {path}, which does not exist"
    for dotted in sorted(set(re.findall(r"`((?:indexer|kbserver|kbbench)(?:\.\w+)+)`", text))):
        module = dotted
        while module and module not in MODULES:
            module = module.rpartition(".")[0]
        assert module and module != dotted.split(".")[0], f"{doc.name} names {dotted}, which is no module"


def test_the_database_layer_hands_back_dataclasses_not_rows():
    """Callers never see sqlite3.Row, so a second backend can return the same types."""
    for path in sorted((ROOT / "kbserver" / "store").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                returns = ast.unparse(node.returns) if node.returns else ""
                assert "Row" not in returns.replace("TokenRow", "").replace("ExampleRow", ""), (
                    f"{path.name}:{node.lineno} {node.name} returns {returns}"
                )


def test_request_ids_are_minted_outside_the_pure_core():
    for path in sorted((ROOT / "kbserver" / "retrieval").glob("*.py")):
        assert "uuid" not in path.read_text(encoding="utf-8"), f"{path.name} mints ids: the service does"
