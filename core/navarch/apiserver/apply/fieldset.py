"""Sets of field paths: what an object sets, what changed between two versions of it, and
the ``FieldsV1`` form they take in ``metadata.managedFields``.

A path is a tuple of elements written as Kubernetes writes them in ``FieldsV1``:

- ``f:<name>``: a field of an object, or a key of a map (``f:spec``, ``f:app``);
- ``k:<json>``: an item of a keyed list, by its key fields
  (``k:{"name":"nginx"}``, ``k:{"containerPort":80,"protocol":"TCP"}``);
- ``v:<json>``: an item of a set of scalars (``v:"example.com/cleanup"``).

So ``spec.containers[name=nginx].image`` is
``("f:spec", "f:containers", 'k:{"name":"nginx"}', "f:image")``, and the set holding it
and the item itself is written ``{"f:spec": {"f:containers": {'k:{"name":"nginx"}':
{".": {}, "f:image": {}}}}}``: a key mapping to ``{}`` is a member, and ``"."`` marks a
member that also has members below it.

What a set holds is what a manager *sets*: leaves (scalars, atomic lists and maps, empty
maps) and keyed-list items, never a plain object on the way to a leaf. That is enough for
ownership and conflicts; Kubernetes additionally marks maps that an Update created
(``"f:labels": {".": {}, ...}``), which Navarch leaves out.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any

import attrs
import orjson

from navarch.apiserver.apply import schema

Path = tuple[str, ...]
FieldSet = frozenset[Path]

# Fields the server owns (Kubernetes strips the same from every managed set), so no
# manager ever owns them and no apply ever conflicts on them.
_SERVER_METADATA = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    }
)
_MISSING = object()


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def key_element(key: dict[str, Any]) -> str:
    return "k:" + _json(key)


def value_element(value: Any) -> str:
    return "v:" + _json(value)


def tracked(obj: dict[str, Any], *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The part of ``obj`` whose fields can be owned: without apiVersion, kind, the
    server's metadata, and the top-level fields in ``exclude`` (``status`` for a write to
    the main resource of a kind with a status subresource, and the reverse)."""
    dropped = {"apiVersion", "kind", *exclude}
    out = {k: v for k, v in obj.items() if k not in dropped}
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        kept = {k: v for k, v in metadata.items() if k not in _SERVER_METADATA}
        if kept:
            out["metadata"] = kept
        else:  # nothing left that anyone can own (an empty map would count as a field)
            del out["metadata"]
    return out


# --- the fields an object sets ------------------------------------------------------------


def fields_of(obj: dict[str, Any]) -> FieldSet:
    """Every path ``obj`` sets (Kubernetes' ToFieldSet): what an apply claims."""
    return frozenset(_leaves(obj, (), None))


def _keyed_items(field: str | None, value: Any) -> dict[str, Any] | None:
    """The items of ``value`` by key element when it is a keyed list, else None (a list
    whose items lack their key is handled as atomic)."""
    if field not in schema.LIST_MAP_KEYS or not isinstance(value, list):
        return None
    items: dict[str, Any] = {}
    for item in value:
        key = schema.item_key(field, item)
        if key is None:
            return None
        items[key_element(key)] = item
    return items


def _is_set(field: str | None, value: Any) -> bool:
    return field in schema.SET_LISTS and isinstance(value, list)


def _is_granular_map(field: str | None, value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and field not in schema.ATOMIC_MAPS


def _leaves(value: Any, path: Path, field: str | None) -> Iterator[Path]:
    if _is_granular_map(field, value):
        for name, child in value.items():
            yield from _leaves(child, (*path, f"f:{name}"), name)
        return
    items = _keyed_items(field, value)
    if items:
        for element, item in items.items():
            yield from _item_leaves(item, (*path, element))
    elif _is_set(field, value) and value:
        for item in value:
            yield (*path, value_element(item))
    elif path:
        yield path


def _item_leaves(item: dict[str, Any], path: Path) -> Iterator[Path]:
    yield path
    for name, child in item.items():
        yield from _leaves(child, (*path, f"f:{name}"), name)


# --- what changed between two versions ----------------------------------------------------


@attrs.define
class Comparison:
    """Paths set by ``new`` and not ``old`` (added), set by both with different values
    (modified), and set by ``old`` only (removed)."""

    added: set[Path] = attrs.field(factory=set)
    modified: set[Path] = attrs.field(factory=set)
    removed: set[Path] = attrs.field(factory=set)

    @property
    def changed(self) -> set[Path]:
        return self.added | self.modified


def compare(old: dict[str, Any], new: dict[str, Any]) -> Comparison:
    out = Comparison()
    _compare(old, new, (), None, out)
    return out


def _compare(old: Any, new: Any, path: Path, field: str | None, out: Comparison) -> None:
    if old is new or old == new:  # most of an object is untouched by a write: skip it whole
        return
    if old is _MISSING:
        out.added.update(_leaves(new, path, field))
    elif new is _MISSING:
        out.removed.update(_leaves(old, path, field))
    elif _is_granular_map(field, old) and _is_granular_map(field, new):
        for name in {**old, **new}:
            _compare(
                old.get(name, _MISSING), new.get(name, _MISSING), (*path, f"f:{name}"), name, out
            )
    elif (
        (old_items := _keyed_items(field, old)) is not None
        and (new_items := _keyed_items(field, new)) is not None
        and (old_items or new_items)
    ):
        for element in {**old_items, **new_items}:
            item_path = (*path, element)
            before, after = old_items.get(element, _MISSING), new_items.get(element, _MISSING)
            if before is _MISSING:
                out.added.update(_item_leaves(after, item_path))
            elif after is _MISSING:
                out.removed.update(_item_leaves(before, item_path))
            else:
                _compare(before, after, item_path, None, out)
    elif _is_set(field, old) and _is_set(field, new) and (old or new):
        before = {value_element(v) for v in old}
        after = {value_element(v) for v in new}
        out.added.update((*path, e) for e in after - before)
        out.removed.update((*path, e) for e in before - after)
    elif old != new:
        old_leaves, new_leaves = set(_leaves(old, path, field)), set(_leaves(new, path, field))
        if old_leaves == new_leaves == {path}:
            out.modified.add(path)  # the common case: a scalar or atomic value changed
        else:  # the shape changed (an empty map filled, a scalar became a list, ...)
            out.removed.update(old_leaves - new_leaves)
            out.added.update(new_leaves - old_leaves)
            out.modified.update(old_leaves & new_leaves)


# --- removing fields ------------------------------------------------------------------------


def remove(obj: dict[str, Any], paths: Iterable[Path]) -> None:
    """Remove the fields at ``paths`` from ``obj`` in place; missing ones are skipped."""
    paths = set(paths)
    for path in paths:
        # Removing an item removes what it holds; its key fields go last, with it.
        if not any(path[:n] in paths for n in range(1, len(path))):
            _remove_one(obj, path)


def _remove_one(obj: dict[str, Any], path: Path) -> None:
    node: Any = obj
    field: str | None = None
    chain: list[tuple[dict[str, Any], str]] = []  # the maps walked through, to tidy up
    for depth, element in enumerate(path):
        last = depth == len(path) - 1
        kind, _, text = element.partition(":")
        if kind == "f" and isinstance(node, dict):
            if last:
                node.pop(text, None)
                break
            chain.append((node, text))
            node, field = node.get(text), text
        elif kind == "k" and isinstance(node, list) and field is not None:
            index = _find_item(node, field, element)
            if index is None:
                return
            if last:
                node.pop(index)
                return
            chain.clear()  # never tidy across a list item: its key fields stay
            node, field = node[index], None
        elif kind == "v" and isinstance(node, list) and last:
            wanted = orjson.loads(text)
            node[:] = [item for item in node if item != wanted]
            return
        else:
            return
    # A map left empty by the removal goes too (``labels: {}`` after the last label),
    # but never a top-level field such as ``spec``.
    for parent, name in reversed(chain):
        if parent is obj or parent.get(name) != {}:
            break
        parent.pop(name)


def _find_item(items: list[Any], field: str, element: str) -> int | None:
    if field not in schema.LIST_MAP_KEYS:
        return None
    for index, item in enumerate(items):
        key = schema.item_key(field, item)
        if key is not None and key_element(key) == element:
            return index
    return None


# --- FieldsV1 and the path text in errors ------------------------------------------------


def to_fields_v1(paths: FieldSet) -> dict[str, Any]:
    # Objects written by one client own the same sets again and again: encode each once.
    return orjson.loads(_encoded(paths))


@functools.lru_cache(maxsize=4096)
def _encoded(paths: FieldSet) -> bytes:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for element in path:
            node = node.setdefault(element, {})
        node["."] = {}
    return orjson.dumps(_collapse(root))


def _collapse(node: dict[str, Any]) -> dict[str, Any]:
    """A member with nothing below it is written ``{}``; with members below, ``"."``."""
    out: dict[str, Any] = {}
    for element, child in node.items():
        if element == ".":
            continue
        below = _collapse(child)
        if "." in child and below:
            out[element] = {".": {}, **below}
        else:
            out[element] = below
    return out


def from_fields_v1(fields: Any) -> FieldSet:
    """Read a ``FieldsV1`` trie; anything malformed is left out rather than refused."""
    try:
        return _decoded(orjson.dumps(fields))
    except TypeError:  # not JSON at all
        return frozenset()


@functools.lru_cache(maxsize=4096)
def _decoded(encoded: bytes) -> FieldSet:
    paths: set[Path] = set()
    _read(orjson.loads(encoded), (), paths)
    return frozenset(paths)


def _read(node: Any, path: Path, paths: set[Path]) -> None:
    if not isinstance(node, dict):
        return
    if path and (not node or "." in node):
        paths.add(path)
    for element, child in node.items():
        if element != ".":
            _read(child, (*path, element), paths)


def path_text(path: Path) -> str:
    """The path as Kubernetes prints it in a conflict: ``.spec.containers[name="nginx"].image``."""
    parts: list[str] = []
    for element in path:
        kind, _, text = element.partition(":")
        if kind == "f":
            parts.append(f".{text}")
        elif kind == "k":
            key = orjson.loads(text)
            parts.append("[" + ",".join(f"{k}={_json(v)}" for k, v in key.items()) + "]")
        elif kind == "v":
            parts.append(f"[={text}]")
        else:
            parts.append(f"[{text}]")
    return "".join(parts)
