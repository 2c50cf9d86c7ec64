"""Only ``server/storage/`` touches collections: every query lives there behind a method named
for its intent. This scans the production code (``server/`` and ``admin_api/``) outside
``server/storage/`` for the ways a collection can be reached, and checks at run time that a
``Storage`` no longer hands collections out as attributes."""

from __future__ import annotations

import ast
import pathlib

import pytest

from server.storage import db as storage_db
from server.storage.db import COLLECTIONS, Storage

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Modules still querying collections themselves, by attribute (``self.storage.usage``), until
# issue 15 (throughput) moves their queries into server/storage. That work is under way on its
# own branch; the helper doing it empties this list, and with it the run-time allow-list in
# ``server.storage.db`` (checked equal below), then deletes ``Storage.__getattr__``.
# (server/relay/recorder.py and server/billing/holds.py, also being rewritten there, reach no
# collection today and need no entry.)
# Add nothing here: new queries go into a repository module of server/storage.
LEGACY_QUERY_MODULES: frozenset[str] = frozenset()  # emptied by issue 15: every query is in server/storage

# What production code may use of a Storage object: lifecycle, health and the secret box.
STORAGE_API = frozenset({"connect", "ensure_indexes", "ping", "close", "box"})
# pymongo collection and database methods: a call of one on a storage object is a query.
QUERY_METHODS = frozenset({
    "find", "find_one", "insert_one", "insert_many", "update_one", "update_many", "replace_one",
    "delete_one", "delete_many", "aggregate", "bulk_write", "find_one_and_update",
    "find_one_and_delete", "find_one_and_replace", "count_documents", "estimated_document_count",
    "distinct", "create_index", "drop", "watch", "count"})


def _module_name(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _chain(node: ast.AST) -> list[str]:
    """``self.deps.storage.users`` -> ["self", "deps", "storage", "users"] (calls cut the chain)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return parts[::-1]


def _storage_names(tree: ast.AST) -> set[str]:
    """Names bound to a Storage: any name ending in ``storage``, plus parameters annotated so."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            if "Storage" in ast.unparse(node.annotation).replace('"', "").split("|")[0]:
                names.add(node.arg)
    return names


def _is_storage(name: str, extra: set[str]) -> bool:
    return name.lower().endswith("storage") or name in extra


def _pymongo_import(node: ast.AST) -> str | None:
    """The pymongo module imported by ``node``, if any (its error classes are fine anywhere)."""
    if isinstance(node, ast.ImportFrom):
        names = [node.module or ""]
    elif isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        return None
    return next((n for n in names if n.split(".")[0] == "pymongo" and n != "pymongo.errors"), None)


def offences(source: str, filename: str = "<string>", client_ok: bool = False) -> list[str]:
    """Every place in ``source`` that reaches a collection or queries through a storage object
    (``client_ok``: importing pymongo itself is allowed, for the embedded server's start-up ping)."""
    tree = ast.parse(source, filename)
    extra = _storage_names(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "collection"):
            found.append(f"{filename}:{line}: .collection(...)")
        elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
              and node.value.attr == "db"):
            found.append(f"{filename}:{line}: .db[...]")
        elif isinstance(node, ast.Attribute):
            chain = _chain(node)
            if len(chain) >= 2 and chain[-2] == "db" and chain[-1] in COLLECTIONS:
                found.append(f"{filename}:{line}: collection {'.'.join(chain)}")
            elif len(chain) >= 2 and _is_storage(chain[-2], extra) and chain[-1] not in STORAGE_API:
                what = "collection" if chain[-1] in COLLECTIONS else "attribute"
                found.append(f"{filename}:{line}: {what} {'.'.join(chain)}")
            elif (node.attr in QUERY_METHODS and len(chain) >= 3 and chain[-2] in COLLECTIONS
                  and _is_storage(chain[-3], extra)):
                found.append(f"{filename}:{line}: query {'.'.join(chain)}")
        elif (module := _pymongo_import(node)) and not client_ok:
            found.append(f"{filename}:{line}: imports {module} (queries belong in server/storage)")
    return sorted(set(found))


def _production_files() -> list[pathlib.Path]:
    files = list((ROOT / "server").rglob("*.py")) + list((ROOT / "admin_api").rglob("*.py"))
    return [p for p in files if p.relative_to(ROOT).parts[:2] != ("server", "storage")]


def test_only_storage_touches_collections():
    offenders: list[str] = []
    for path in _production_files():
        name = _module_name(path)
        if name not in LEGACY_QUERY_MODULES:
            offenders += offences(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)),
                                  client_ok=name == "server.embedded_db")
    assert offenders == [], "queries outside server/storage:\n" + "\n".join(offenders)


def test_the_legacy_list_names_existing_modules_and_matches_the_runtime():
    """Stale entries would hide new offenders; the run-time list must shrink with this one."""
    modules = {_module_name(p): p for p in (ROOT / "server").rglob("*.py")}
    assert LEGACY_QUERY_MODULES <= modules.keys()
    done = [name for name in LEGACY_QUERY_MODULES  # no collection reached as an attribute any more
            if not any(": collection " in found
                       for found in offences(modules[name].read_text(encoding="utf-8")))]
    assert done == [], f"these no longer query by themselves: take them off the list: {done}"
    assert storage_db.LEGACY_ATTRIBUTE_CALLERS == LEGACY_QUERY_MODULES


@pytest.mark.parametrize("source", [
    "async def f(self):\n    await self.deps.storage.users.find_one({})\n",
    "async def f(storage):\n    await storage.usage.delete_many({})\n",
    "def f(self):\n    return self.storage.collection('users')\n",
    "def f(deps):\n    return deps.storage.db['users']\n",
    "def f(deps):\n    return deps.storage.db.users\n",
    "async def f(s: Storage):\n    return await s.count('audit', {})\n",
    "async def f(self):\n    return await self._storage.client.admin.command('ping')\n",
    "from pymongo import UpdateOne\n",
    "import pymongo\n",
    "def f(store):\n    return store.db.users.find({})\n",
])
def test_the_scan_sees_each_way_in(source):
    assert offences(source) != []


@pytest.mark.parametrize("source", [
    "async def f(self):\n    await self.deps.users.get('u1')\n",  # a repository, not a collection
    "async def f(storage):\n    ok = await storage.ping(); storage.box = None; await storage.close()\n",
    "from pymongo.errors import DuplicateKeyError\n",
    "def f(deps):\n    return deps.settings.db_name\n",
])
def test_the_scan_passes_repository_calls(source):
    assert offences(source) == []


async def test_a_storage_hands_out_no_collection_attributes(storage):
    """Outside the allow-listed modules (tests included) a collection is not an attribute."""
    with pytest.raises(AttributeError):
        storage.users  # noqa: B018 - the access itself is what is tested
    assert "__getattr__" not in Storage.__dict__ and not storage_db.LEGACY_ATTRIBUTE_CALLERS
