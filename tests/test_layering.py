"""Import layering (issue 14 point 3), read from the source with `ast` (imports inside functions
included): the apps never import `portal` (the project's wiring imports them, not the reverse;
settings are read through `django.conf.settings`), tasks import services, never the reverse, reads
never import writes, no two modules of the apps import each other, however indirectly, and the
wallet app (R23) sits above payments: no lower app imports it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "family", "payments", "wallet")
BELOW_WALLET = ("accounts", "family", "payments")


def module_files(package: str) -> dict[str, Path]:
    """Every module of a package (subpackages and migrations included), by dotted name."""
    files = {}
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def imports_of(name: str, path: Path, modules: set[str] | None = None) -> set[str]:
    """The dotted names a module imports, relative imports made absolute. For `from a import b`
    both `a` and `a.b` are listed (b may be a module); given the set of `modules`, only `a.b`
    when it is one, else only `a`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*base, node.module] if node.module else base)
            else:
                base = node.module
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if modules is None:
                    found.update((base, sub))
                else:
                    found.add(sub if sub in modules else base)
    return found


def within(imported: str, module: str) -> bool:
    return imported == module or imported.startswith(module + ".")


def importers_of(target: str, packages: tuple[str, ...]) -> list[tuple[str, str]]:
    """(module, what it imports) for every module of `packages` importing `target` or below."""
    return [
        (name, imported)
        for package in packages
        for name, path in module_files(package).items()
        for imported in sorted(imports_of(name, path))
        if within(imported, target)
    ]


def test_the_import_reader_sees_relative_and_function_level_imports(tmp_path):
    source = tmp_path / "__init__.py"
    source.write_text("def f():\n    from ..tasks import job\n    from . import audit\n")
    assert imports_of("accounts.services", source) == {
        "accounts.tasks",
        "accounts.tasks.job",
        "accounts.services",
        "accounts.services.audit",
    }


def test_no_app_imports_portal():
    assert importers_of("portal", APPS) == []


def test_no_lower_app_imports_wallet():  # R23: accounts <- family <- payments <- wallet
    assert module_files("wallet")  # the scan sees the app
    assert importers_of("wallet", BELOW_WALLET) == []


def test_accounts_services_do_not_import_accounts_tasks():
    assert "accounts.services.audit" in module_files("accounts.services")
    assert importers_of("accounts.tasks", ("accounts.services",)) == []


def import_graph() -> dict[str, set[str]]:
    """Module -> the app modules it imports (migrations left out: they are frozen history)."""
    files = {name: path for app in APPS for name, path in module_files(app).items()}
    modules = set(files)
    return {
        name: {m for m in imports_of(name, path, modules) if m in modules and m != name}
        for name, path in files.items()
        if ".migrations" not in name
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_an_indirect_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_a_package_importing_its_submodule_is_no_cycle(tmp_path):
    source = tmp_path / "binding.py"
    source.write_text("from . import notify\nfrom ..selectors import checks\n")
    modules = {"family.services", "family.services.notify", "family.selectors"}
    assert imports_of("family.services.binding", source, modules) == {
        "family.services.notify",
        "family.selectors",
    }


def test_no_import_cycles_between_the_apps_modules():
    graph = import_graph()
    assert "family.services.binding" in graph["family.services"]
    assert cycles(graph) == []


def test_reads_never_import_writes():
    writes = [
        (name, sorted(m for m in imported if ".services" in f".{m}" or m.endswith(".tasks")))
        for name, imported in import_graph().items()
        if ".selectors" in f".{name}"
    ]
    assert [(name, found) for name, found in writes if found] == []
