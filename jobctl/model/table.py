"""The field table: one declaration per field of a resource, read by everything that handles fields.

A resource (a job definition) is a frozen Definition (jobctl.model.definition: declared as a dataclass,
without creating one) whose attributes are declared with `column()`:
the attribute's type and the table row are one line. The row says where the field lives in a spec
document, where it lives in OCI's SDK models, whether OCI changes it in place, and how it is shown.
Diff (update vs replace), export, JSON output, the local and memory backends' updates, the OCI
mapping and the spec reference read the rows; adding a field is adding a row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, NamedTuple

from jobctl.model.definition import field, fields, replace

Kind = Literal["text", "number", "integer", "bool", "list", "map", "object", "objects", "entrypoint"]
_UNSET: Any = object()
IGNORED = "ignored"  # what the local backend does with a field that only means something on OCI


class Row(NamedTuple):
    """What the code needs to know about one field; see `column()` for the meaning of each part.

    A NamedTuple: each command that reads a job definition imports this module, and a frozen dataclass's
    generated methods cost ~1 ms to create (issue 18)."""

    attr: str
    path: str
    kind: Kind
    in_place: bool
    default: Any
    absent: Any
    oci: str | None
    secret_by_key: bool
    shown: str
    ignored_locally: bool
    derive: Callable[[Any], Any] | None = None
    fixed_when: Callable[[Any], bool] | None = None
    run: bool = False

    def changes_in_place(self, resource: Any) -> bool:
        """Whether OCI updates this field of `resource` in place (`in_place`, unless `fixed_when` holds)."""
        return self.in_place and not (self.fixed_when is not None and self.fixed_when(resource))

    def unset(self, resource: Any) -> Any:
        """What saying nothing means for this row of `resource`: its absent value, or the derived one."""
        return self.absent if self.derive is None else self.derive(resource)

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.path.split("."))

    @property
    def in_spec(self) -> bool:
        """False for values jobctl computes (the artifact digest), which no spec document holds."""
        return self.path.startswith(("metadata.", "spec."))


def column(
    path: str, kind: Kind, *, in_place: bool = False, default: Any = None, absent: Any = _UNSET,
    oci: str | None = None, secret_by_key: bool = False, required: bool = False, local: str | None = None,
    derive: Callable[[Any], Any] | None = None, fixed_when: Callable[[Any], bool] | None = None,
    run: bool = False,
) -> Any:
    """Declare a field of a resource.

    path: where a jobctl/v1 document holds it (`spec.infrastructure.shape`); plans and JSON output
        name it by this path without `spec.`/`metadata.` (`infrastructure.shape`).
    kind: how its value is read and shown; `list` values are tuples, `map` values dicts of text.
    in_place: OCI's Update*Details accepts it; any other change replaces the resource.
    default: its value when the spec leaves it out; absent: when the spec leaves out its whole parent
        object (`logging.enabled` is true inside a `logging` block, false without one), which is
        also the default of the attribute.
    oci: its attribute path in the SDK models (`job_infrastructure_configuration_details.shape_name`),
        mapped both ways by the OCI backend; None: mapped by hand there (derived env, tags).
    local: IGNORED for a field the local backend cannot honour (a shape, a subnet): plans on the local
        backend say so.
    required: every resource has it (no default).
    secret_by_key: a map whose values are secret when their key names a secret (env); plans diff
        it entry by entry, so each entry is masked by its own key.
    derive: when the spec leaves it out, its value follows from the other fields (the infrastructure
        type from the subnet): the resource fills it in (`fill_derived`), and a value equal to the
        derived one counts as unset (not exported, not in the spec hash).
    fixed_when: an in-place field that no update reaches in some resources (a multi-node job keeps
        its infrastructure in its node groups, which UpdateJob cannot change): changed there, it replaces.
    run: a run may set it for itself (OCI's CreateJobRunDetails overrides it): `jobctl run --set PATH=VALUE`.
    """
    if kind in ("list", "objects"):
        default = ()
    meta = {"row": (path, kind, in_place, {} if kind in ("map", "object") else default, absent, oci, secret_by_key,
                    local == IGNORED, derive, fixed_when, run)}
    if required:
        return field(metadata=meta)
    if kind in ("map", "object"):
        return field(default_factory=dict, metadata=meta)
    return field(default=default if absent is _UNSET else absent, metadata=meta)


def rows(resource: type[Any]) -> tuple[Row, ...]:
    """The table of a resource class, in declaration order (the order a person reads a spec)."""
    cached: tuple[Row, ...] | None = _TABLES.get(resource)
    if cached is None:
        built = []
        for f in fields(resource):
            if "row" not in f.metadata:
                continue
            path, kind, in_place, default, absent, oci, secret_by_key, ignored, derive, fixed, run = f.metadata["row"]
            shown = path.split(".", 1)[1] if path.startswith(("metadata.", "spec.")) else path
            built.append(Row(f.name, path, kind, in_place, default, default if absent is _UNSET else absent,
                             oci, secret_by_key, shown, ignored, derive, fixed, run))
        cached = _TABLES[resource] = tuple(built)
    return cached


_TABLES: dict[type[Any], tuple[Row, ...]] = {}


def branch(tree: dict[str, Any], parents: Iterable[str]) -> dict[str, Any]:
    """The mapping at `parents` in a nested document, made where missing (where a path's leaf goes)."""
    for part in parents:
        tree = tree.setdefault(part, {})
    return tree


def fill_derived(resource: Any) -> None:
    """Give each derived row left unset (None) its derived value; for a frozen resource's __post_init__."""
    for row in rows(type(resource)):
        if row.derive is not None and getattr(resource, row.attr) is None:
            object.__setattr__(resource, row.attr, row.derive(resource))


def value(resource: Any, row: Row) -> Any:
    """The row's value in its neutral form: lists as lists, maps as plain dicts, a whole number as
    written (OCI returns `ocpus: 2` as 2.0)."""
    current = getattr(resource, row.attr)
    if row.kind == "number" and isinstance(current, float) and current.is_integer():
        return int(current)
    if row.kind == "objects":
        return [dict(item) for item in current]
    if row.kind == "list" or isinstance(current, tuple):
        return list(current)
    if row.kind in ("map", "object"):
        return {key: dict(item) if isinstance(item, Mapping) else item for key, item in current.items()}
    return current


def flatten(resource: Any) -> Iterator[tuple[str, Any]]:
    """(shown path, value) pairs for a diff; map entries one by one (`runtime.env.MODEL`), an empty
    list as None (shown as nothing)."""
    for row in rows(type(resource)):
        current = value(resource, row)
        if row.kind == "map" and row.secret_by_key:
            for key in sorted(current):
                yield f"{row.shown}.{key}", current[key]
        else:
            yield row.shown, None if current == [] else current


def row_for(resource: type[Any], shown: str) -> Row:
    """The row a diff key belongs to (`runtime.env.MODEL` belongs to `runtime.env`)."""
    for row in rows(resource):
        if shown == row.shown or (row.kind == "map" and shown.startswith(row.shown + ".")):
            return row
    raise KeyError(shown)


def updated_in_place(current: Any, wanted: Any) -> Any:
    """`current` with every field OCI updates in place taken from `wanted`: what an update does.

    Fields outside the table (jobctl's bookkeeping, such as its own tags) follow `wanted` too.
    """
    fixed = {row.attr for row in rows(type(current)) if not row.changes_in_place(current)}
    changes = {f.name: getattr(wanted, f.name) for f in fields(current) if f.name not in fixed}
    return replace(current, **changes)


def canonical(resource: Any) -> dict[str, Any]:
    """The fields that differ from what saying nothing means, by attribute (hashes that survive new fields)."""
    return {row.attr: value(resource, row) for row in set_fields(resource)}


def decode(resource: type[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Constructor arguments from stored JSON (by attribute): lists back to tuples, unknown keys left out."""
    out: dict[str, Any] = {}
    for row in rows(resource):
        if row.attr in data:
            stored = data[row.attr]
            out[row.attr] = tuple(stored) if isinstance(stored, list) else stored
    return out


def _get(node: Mapping[str, Any], parts: tuple[str, ...]) -> tuple[bool, bool, Any]:
    """(parent present, field present, value) at `parts` in a nested document."""
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, Mapping):
            return False, False, None
        node = child
    return True, parts[-1] in node, node.get(parts[-1])


def _text(scalar: Any) -> str:
    """Env values and args are text; a value the loader did not keep as written is spelled as YAML does."""
    if isinstance(scalar, bool):
        return "true" if scalar else "false"
    return str(scalar)


def _read(row: Row, given: Any) -> Any:
    if row.kind == "objects":
        return tuple(dict(item) for item in given)
    if row.kind == "list":
        return tuple(_text(item) for item in given)
    if row.kind == "map":
        return {key: _text(item) for key, item in given.items()}
    if row.kind == "entrypoint" and isinstance(given, list):
        return tuple(given)
    return given


def from_document(resource: type[Any], document: Mapping[str, Any]) -> dict[str, Any]:
    """Constructor arguments for the fields a schema-valid document holds (defaults where it is silent)."""
    out: dict[str, Any] = {}
    for row in rows(resource):
        if not row.in_spec:
            continue
        parent, present, given = _get(document, row.parts)
        out[row.attr] = _read(row, given) if present else (row.default if parent else row.absent)
    return out


def to_document(resource: Any) -> dict[str, Any]:
    """The spec document's fields for a resource: each value that differs from its default.

    A block (`spec.logging`) is written when a value in it differs from what its absence means, and
    then holds the values that differ from their defaults (or, if none do, those that make it needed).
    """
    out: dict[str, Any] = {}
    table = [row for row in rows(type(resource)) if row.in_spec]
    blocks: dict[tuple[str, ...], list[Row]] = {}
    for row in table:
        blocks.setdefault(row.parts[:-1], []).append(row)
    for parent, members in blocks.items():
        current = {row.attr: value(resource, row) for row in members}
        needed = [row for row in members if not _same(current[row.attr], row.unset(resource))]
        if not needed:
            continue
        written = [row for row in members if not _same(current[row.attr], row.default)
                   and not (row.derive and _same(current[row.attr], row.derive(resource)))] or needed
        node = branch(out, parent)
        for row in written:
            node[row.parts[-1]] = current[row.attr]
    return out


def _same(current: Any, default: Any) -> bool:
    if isinstance(default, tuple):
        default = list(default)
    return bool(current == default or (current in ([], {}) and default is None))


def shown_tree(resource: Any) -> dict[str, Any]:
    """Every field (None included) nested by its shown path: the `definition` of JSON output."""
    out: dict[str, Any] = {}
    for row in rows(type(resource)):
        *parents, leaf = row.shown.split(".")
        branch(out, parents)[leaf] = value(resource, row)
    return out


def set_fields(resource: Any) -> list[Row]:
    """The rows whose value differs from what saying nothing means."""
    return [row for row in rows(type(resource)) if not _same(value(resource, row), row.unset(resource))]
