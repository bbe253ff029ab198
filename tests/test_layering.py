"""Import layering (issue 14 point 3), read from the source with `ast` (imports inside functions
included): the apps never import `portal` (the project's wiring imports them, not the reverse;
settings are read through `django.conf.settings`), and tasks import services, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "family", "payments")


def module_files(package: str) -> dict[str, Path]:
    """Every module of a package (subpackages and migrations included), by dotted name."""
    files = {}
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def imports_of(name: str, path: Path) -> set[str]:
    """The dotted names a module imports, relative imports made absolute. For `from a import b`
    both `a` and `a.b` are listed (b may be a module)."""
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
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
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


def test_accounts_services_do_not_import_accounts_tasks():
    assert "accounts.services.audit" in module_files("accounts.services")
    assert importers_of("accounts.tasks", ("accounts.services",)) == []
