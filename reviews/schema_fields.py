"""Django form fields built from a JSON Schema, the value they make, and jsonschema's errors
mapped back onto them.

:func:`build` adds one Django form field per leaf of the schema to a form and returns a tree of
nodes that the template ``includes/schema_node.html`` lays out and :func:`value_of` turns back
into the JSON value:

* ``object`` with ``properties``: a group of its properties' nodes (fieldset);
* ``oneOf`` / ``anyOf`` whose branches are objects told apart by a ``const`` property (the
  discriminator, e.g. ``type``; OpenAPI's ``discriminator.propertyName`` is honoured): a radio
  choice of branch, named as the discriminator property, then the chosen branch's fields. Only
  the chosen branch is validated (:func:`inactive_fields`);
* ``array``: one node per item, plus an item template the page's script clones for "Add";
  which items are present is posted as ``<name>[]`` (one value per item, in order); an array of
  ``enum`` values is one multiple-choice field;
* ``$ref`` to ``#/$defs/...`` (or ``#/definitions/...``) is followed, ``null`` in a union or a
  type list makes the field optional, ``const`` is shown as fixed text;
* anything else (maps, untagged unions, ``{}``) is one JSON textarea.

Field names are the value's path joined with dots (``edited_action.args.to``; array items by
index, ``tags.0``), under ``base`` when given; :func:`field_for_path` maps a jsonschema error's
``absolute_path`` to that name, so a validation error is shown on the field it is about.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from django import forms

from workflows import validation
from workflows.agent_requests import resolve

__all__ = [
    "ArrayNode",
    "ConstNode",
    "FieldNode",
    "MISSING",
    "Node",
    "ObjectNode",
    "UnionNode",
    "add_schema_errors",
    "build",
    "discriminated",
    "chosen_branches",
    "field_for_path",
    "inactive_fields",
    "label_for",
    "resolve",
    "schema_errors",
    "skipped_fields",
    "unwrap",
    "value_of",
]

MISSING: Any = type(
    "Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False}
)()
INDEX = "__index__"  # stands for an array item's index in an item template
_MAX_DEPTH = 12


# -- nodes ---------------------------------------------------------------------------------------
@dataclass
class Node:
    path: tuple
    label: str
    help_text: str = ""
    required: bool = True
    kind: str = ""


@dataclass
class FieldNode(Node):
    """A leaf: one Django form field, ``name`` in the form."""

    name: str = ""
    kind: str = "field"
    bound: Any = None  # the BoundField, set by build()
    proposed: str | None = None  # the prefilled value as the page's script compares it


@dataclass
class ConstNode(Node):
    """A value fixed by the schema (``const``): shown, not editable."""

    value: Any = None
    kind: str = "const"


@dataclass
class ObjectNode(Node):
    children: list[Node] = field(default_factory=list)
    framed: bool = True  # a group with its legend; a union's branch is not (its radio names it)
    kind: str = "object"


@dataclass
class ArrayNode(Node):
    """Items of an array; ``name`` + ``[]`` lists the posted items' indexes."""

    name: str = ""
    html_name: str = ""  # name with the form's prefix
    items: list[Node] = field(default_factory=list)
    template: Node | None = None  # an item with INDEX in its names, for the page's "Add"
    min_items: int = 0
    kind: str = "array"


@dataclass
class Branch:
    key: str  # the discriminator's value as posted
    value: Any  # the discriminator's const value
    label: str
    index: int  # position in the schema's oneOf/anyOf list
    node: ObjectNode | None = None


@dataclass
class UnionNode(Node):
    """A choice of branch (a radio field ``name``, the discriminator) and each branch's fields."""

    name: str = ""
    discriminator: str = ""
    branches: list[Branch] = field(default_factory=list)
    selected: Branch | None = None
    bound: Any = None
    kind: str = "union"


# -- schema helpers ------------------------------------------------------------------------------
def unwrap(schema: Any, root: dict) -> tuple[dict, bool]:
    """``(schema, nullable)``: refs resolved, ``null`` taken out of ``anyOf``/``oneOf`` and of
    type lists; a union left with one branch is that branch."""
    schema = resolve(schema, root)
    nullable = False
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            non_null = [o for o in options if resolve(o, root).get("type") != "null"]
            if len(non_null) < len(options):
                nullable = True
                schema = {**schema, key: non_null}
            if len(non_null) == 1:
                rest = {k: v for k, v in schema.items() if k != key}
                schema = {**resolve(non_null[0], root), **rest}
    if isinstance(schema.get("type"), list):
        types = [t for t in schema["type"] if t != "null"]
        nullable = nullable or len(types) < len(schema["type"])
        schema = {**schema, "type": types[0] if len(types) == 1 else types}
    return schema, nullable


def type_of(schema: dict) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    return None


def label_for(name: Any) -> str:
    text = str(name).replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:] if text else "Value"


def _const(schema: dict) -> Any:
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and len(enum) == 1:
        return enum[0]
    return MISSING


def discriminated(schema: dict, root: dict) -> tuple[str, list[tuple[int, Any, dict]]] | None:
    """``(property, [(index, const value, branch schema)])`` when every ``oneOf``/``anyOf``
    branch is an object with a distinct ``const`` on one shared property."""
    options = schema.get("oneOf") or schema.get("anyOf")
    if not isinstance(options, list) or len(options) < 2:
        return None
    branches = [resolve(option, root) for option in options]
    if not all(type_of(b) == "object" for b in branches):
        return None
    named = (schema.get("discriminator") or {}).get("propertyName")
    candidates = [named] if named else list(branches[0].get("properties", {}))
    for prop in candidates:
        values = [_const(resolve(b.get("properties", {}).get(prop, {}), root)) for b in branches]
        keys = [str(v) for v in values]
        if MISSING not in values and len(set(keys)) == len(keys):
            return prop, [(i, v, b) for i, (v, b) in enumerate(zip(values, branches, strict=True))]
    return None


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


# -- building --------------------------------------------------------------------------------------
class _Builder:
    def __init__(self, form: forms.BaseForm, root: dict, fields: dict[str, forms.Field]):
        self.form = form
        self.root = root
        self.fields = fields

    def posted(self, name: str) -> list[str] | None:
        """What the bound form posted under ``name`` (a list), or None when unbound."""
        if not self.form.is_bound:
            return None
        data = self.form.data
        key = self.form.add_prefix(name)
        if hasattr(data, "getlist"):
            return data.getlist(key)
        value = data.get(key, [])
        return list(value) if isinstance(value, list | tuple) else [value]

    def posted_indexes(self, name: str) -> list[int]:
        """Indexes of array items posted as ``<name>.<index>...`` fields, in order."""
        pattern = re.compile(re.escape(self.form.add_prefix(name)) + r"\.(\d+)(?:\.|$)")
        found = (pattern.match(key) for key in self.form.data)
        return sorted({int(match.group(1)) for match in found if match})

    def node(
        self,
        schema: Any,
        path: tuple,
        name: str,
        *,
        initial: Any = MISSING,
        required: bool = True,
        label: str | None = None,
        depth: int = 0,
    ) -> Node:
        prop, nullable = unwrap(schema, self.root)
        required = required and not nullable
        # A property's own title, else its name, else its type's title (a $ref's target).
        own = schema.get("title") if isinstance(schema, dict) else None
        key = path[-1] if path else None
        label = (
            label
            or own
            or (label_for(key) if isinstance(key, str) else None)
            or prop.get("title")
            or (label_for(name) if name else "Your answer")
        )
        help_text = prop.get("description", "") or ""
        kind = type_of(prop)
        if depth > _MAX_DEPTH:
            return self.leaf(prop, path, name, initial, required, label, help_text, json_only=True)
        const = _const(prop)
        if const is not MISSING and "enum" not in prop:
            return ConstNode(path=path, label=label, help_text=help_text, value=const)
        union = discriminated(prop, self.root)
        if union is not None:
            return self.union(prop, union, path, name, initial, required, label, help_text, depth)
        if kind == "object" and prop.get("properties"):
            return self.object(prop, path, name, initial, required, label, help_text, depth)
        if kind == "array" and isinstance(prop.get("items"), dict):
            items, _ = unwrap(prop["items"], self.root)
            if "enum" not in items:
                return self.array(prop, path, name, initial, required, label, help_text, depth)
        return self.leaf(prop, path, name, initial, required, label, help_text)

    def child_name(self, name: str, key: Any) -> str:
        return f"{name}.{key}" if name else str(key)

    def object(
        self, prop, path, name, initial, required, label, help_text, depth, skip=()
    ) -> ObjectNode:
        node = ObjectNode(path=path, label=label, help_text=help_text, required=required)
        needed = set(prop.get("required", ()))
        start = initial if isinstance(initial, dict) else {}
        for key, sub in prop.get("properties", {}).items():
            if key in skip:
                continue
            node.children.append(
                self.node(
                    sub,
                    (*path, key),
                    self.child_name(name, key),
                    initial=start.get(key, MISSING),
                    required=key in needed,
                    depth=depth + 1,
                )
            )
        return node

    def union(
        self, prop, union, path, name, initial, required, label, help_text, depth
    ) -> UnionNode:
        discriminator, options = union
        radio_name = self.child_name(name, discriminator)
        node = UnionNode(
            path=path,
            label=label,
            help_text=help_text,
            required=required,
            name=radio_name,
            discriminator=discriminator,
        )
        chosen = initial.get(discriminator, MISSING) if isinstance(initial, dict) else MISSING
        for index, value, branch_schema in options:
            branch = Branch(
                key=str(value),
                value=value,
                index=index,
                label=branch_schema.get("title")
                if not isinstance(value, str)
                else label_for(value),
            )
            # Branches may share property names (reject and respond both have a message):
            # each branch's fields get their own names, "@<branch>.<property>".
            branch.node = self.object(
                branch_schema,
                path,
                f"{name}.@{branch.key}" if name else f"@{branch.key}",
                initial if value == chosen else MISSING,
                required,
                branch.label,
                branch_schema.get("description", "") or "",
                depth,
                skip=(discriminator,),
            )
            branch.node.framed = False
            node.branches.append(branch)
        by_key = {b.key: b for b in node.branches}
        self.fields[radio_name] = forms.TypedChoiceField(
            label=label,
            choices=[(b.key, b.label) for b in node.branches],
            coerce=lambda key: by_key[key].value,
            widget=forms.RadioSelect,
            required=True,
            initial=str(chosen) if chosen is not MISSING else None,
            error_messages={
                "required": "Choose one.",
                "invalid_choice": "Choose one of the options.",
            },
        )
        posted = self.posted(radio_name)
        key = (
            (posted[-1] if posted else None)
            if posted is not None
            else (str(chosen) if chosen is not MISSING else None)
        )
        node.selected = by_key.get(key) if key is not None else None
        return node

    def array(self, prop, path, name, initial, required, label, help_text, depth) -> ArrayNode:
        node = ArrayNode(
            path=path,
            label=label,
            help_text=help_text,
            required=required,
            name=name,
            html_name=self.form.add_prefix(name),
            min_items=int(prop.get("minItems", 0) or 0),
        )
        item_schema = prop["items"]
        posted = self.posted(f"{name}[]")
        if posted is not None:
            indexes = [int(i) for i in dict.fromkeys(posted) if str(i).isdigit()]
            if not posted:  # no item markers (a client without the page's script)
                indexes = self.posted_indexes(name)
            values: list[Any] = [MISSING] * len(indexes)
        else:
            values = list(initial) if isinstance(initial, list) else []
            if not values and "default" in prop and isinstance(prop["default"], list):
                values = list(prop["default"])
            values += [MISSING] * max(0, node.min_items - len(values))
            indexes = list(range(len(values)))
        for position, (index, value) in enumerate(zip(indexes, values, strict=True)):
            node.items.append(
                self.node(
                    item_schema,
                    (*path, index),
                    self.child_name(name, index),
                    initial=value,
                    label=f"Item {position + 1}",
                    depth=depth + 1,
                )
            )
        # The item template's fields live in a throwaway form: rendered, never validated.
        template_fields: dict[str, forms.Field] = {}
        template_builder = _Builder(_Unbound(self.form), self.root, template_fields)
        node.template = template_builder.node(
            item_schema,
            (*path, INDEX),
            self.child_name(name, INDEX),
            label="New item",
            depth=depth + 1,
        )
        holder = forms.Form(prefix=self.form.prefix)
        holder.use_required_attribute = False
        holder.fields.update(template_fields)
        _bind_nodes(node.template, holder)
        return node

    def leaf(
        self, prop, path, name, initial, required, label, help_text, json_only=False
    ) -> FieldNode:
        field_ = self.field(
            prop,
            required=required,
            label=label,
            help_text=help_text,
            json_only=json_only,
            proposal=initial,
        )
        proposed = None
        if initial is not MISSING:
            field_.initial = _initial(field_, initial)
            proposed = _proposed_text(initial)
        self.fields[name] = field_
        return FieldNode(
            path=path,
            label=label,
            help_text=help_text,
            required=field_.required,
            name=name,
            proposed=proposed,
        )

    def field(
        self,
        prop: dict,
        *,
        required: bool,
        label: str,
        help_text: str,
        json_only: bool = False,
        proposal: Any = MISSING,
    ) -> forms.Field:
        kind = type_of(prop)
        common: dict[str, Any] = {"label": label, "help_text": help_text, "required": required}
        if "default" in prop:
            common["initial"] = prop["default"]
            common["required"] = False
        if json_only:
            return _json_field(common)
        if "enum" in prop:
            values = {str(v): v for v in prop["enum"]}
            choices = [(k, label_for(k) if isinstance(values[k], str) else k) for k in values]
            if not common["required"]:
                choices = [("", "—")] + choices
            if "initial" in common:
                common["initial"] = str(common["initial"])
            return forms.TypedChoiceField(
                choices=choices, coerce=values.__getitem__, empty_value=None, **common
            )
        if kind == "boolean":
            common["required"] = False  # a checkbox: unticked is False, not missing
            return forms.BooleanField(**common)
        if kind == "integer":
            return forms.IntegerField(
                min_value=prop.get("minimum"), max_value=prop.get("maximum"), **common
            )
        if kind == "number":
            return forms.FloatField(
                min_value=prop.get("minimum"), max_value=prop.get("maximum"), **common
            )
        if kind == "string":
            fmt = prop.get("format")
            if fmt == "email":
                return forms.EmailField(**common)
            if fmt == "uri":
                return forms.URLField(assume_scheme="https", **common)
            if fmt == "date":
                return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
            if fmt == "date-time":
                return forms.DateTimeField(
                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), **common
                )
            max_length = prop.get("maxLength")
            multiline = prop.get("x-multiline") or (max_length is None or max_length > 200)
            start = proposal if proposal is not MISSING else common.get("initial")
            short = not multiline or _looks_short(start)
            widget = forms.TextInput() if short else forms.Textarea(attrs={"rows": 3})
            return forms.CharField(
                max_length=max_length,
                min_length=prop.get("minLength"),
                widget=widget,
                strip=False,
                **common,
            )
        if kind == "array":
            items, _ = unwrap(prop.get("items", {}), self.root)
            if "enum" in items:
                return forms.TypedMultipleChoiceField(
                    choices=[
                        (str(v), label_for(v) if isinstance(v, str) else str(v))
                        for v in items["enum"]
                    ],
                    coerce={str(v): v for v in items["enum"]}.__getitem__,
                    widget=forms.CheckboxSelectMultiple,
                    **common,
                )
        return _json_field(common)


def _looks_short(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 80 and "\n" not in value


def _json_field(common: dict) -> forms.JSONField:
    common = {**common, "label": f"{common['label']} (JSON)"}
    return validation.JSONValueField(
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono", "spellcheck": "false"}), **common
    )


class _Unbound:
    """Stands for a form when building item templates: never bound, same prefix."""

    is_bound = False

    def __init__(self, form: forms.BaseForm) -> None:
        self.prefix = form.prefix
        self.add_prefix = form.add_prefix


def _proposed_text(value: Any) -> str:
    """A proposed value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _initial(field_: forms.Field, value: Any) -> Any:
    if isinstance(field_, forms.TypedMultipleChoiceField) and isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(field_, forms.TypedChoiceField):
        return str(value)
    if isinstance(field_, forms.CharField) and value is not None and not isinstance(value, str):
        return json.dumps(value)
    return value


def build(
    form: forms.BaseForm,
    schema: dict,
    *,
    root: dict | None = None,
    base: str = "",
    initial: Any = MISSING,
    required: bool = True,
    label: str | None = None,
) -> Node:
    """Add the fields for ``schema`` to ``form.fields`` (named under ``base``) and return the
    node tree. ``root`` holds the ``$defs`` that refs point into (default: ``schema``);
    ``initial`` prefills the fields (e.g. a proposal). Call from the form's ``__init__``, after
    ``super().__init__`` (a bound form's data decides the union branch and the array items)."""
    root = schema if root is None else root
    builder = _Builder(form, root, {})
    node = builder.node(schema, (), base, initial=initial, required=required, label=label)
    form.fields.update(builder.fields)
    _bind_nodes(node, form)
    return node


def _bind_nodes(node: Node, form: forms.BaseForm) -> None:
    for item in walk(node):
        if isinstance(item, FieldNode | UnionNode) and item.name in form.fields:
            item.bound = form[item.name]


def walk(node: Node | None, *, chosen_only: bool = False) -> Iterator[Node]:
    """Every node under ``node`` (itself first), through every branch of a union, or with
    ``chosen_only`` only through the branch chosen (the nodes a submission uses)."""
    if node is None:
        return
    yield node
    if isinstance(node, ObjectNode):
        for child in node.children:
            yield from walk(child, chosen_only=chosen_only)
    elif isinstance(node, ArrayNode):
        for item in node.items:
            yield from walk(item, chosen_only=chosen_only)
    elif isinstance(node, UnionNode):
        branches = [node.selected] if chosen_only else node.branches
        for branch in branches:
            if branch is not None:
                yield from walk(branch.node, chosen_only=chosen_only)


def _active(node: Node) -> Iterator[Node]:
    return walk(node, chosen_only=True)


def field_names(node: Node) -> set[str]:
    return {n.name for n in walk(node) if isinstance(n, FieldNode | UnionNode)}


def inactive_fields(node: Node) -> set[str]:
    """Names of the fields of branches not chosen: their input is neither validated nor used."""
    active = {n.name for n in _active(node) if isinstance(n, FieldNode | UnionNode)}
    return field_names(node) - active


def skipped_fields(node: Node, form: forms.BaseForm) -> set[str]:
    """Fields a submission leaves out: those of branches not chosen, and those of an optional
    object (or array) left entirely empty (its required parts are required only if it is
    given). Their errors are dropped; :func:`value_of` omits them."""
    skipped = inactive_fields(node)
    for item in _active(node):
        if isinstance(item, ObjectNode | ArrayNode) and not item.required and item.path:
            names = field_names(item) - skipped
            if names and all(form[name].data in (None, "", [], False) for name in names):
                skipped |= names
    return skipped


def value_of(node: Node, cleaned: dict[str, Any]) -> Any:
    """The JSON value the fields of ``node`` make from a form's ``cleaned_data``; ``MISSING``
    for an optional part left empty."""
    if isinstance(node, FieldNode):
        if node.name not in cleaned:  # skipped (see skipped_fields)
            return MISSING
        value = cleaned[node.name]
        if value in (None, "", []) and not node.required:
            return MISSING
        return jsonable(value)
    if isinstance(node, ConstNode):
        return node.value
    if isinstance(node, ObjectNode):
        out, given = {}, False
        for child in node.children:
            value = value_of(child, cleaned)
            if value is not MISSING:
                out[child.path[-1]] = value
                given = given or not isinstance(child, ConstNode)
        return out if given or node.required else MISSING
    if isinstance(node, ArrayNode):
        items = [value_of(item, cleaned) for item in node.items]
        items = [item for item in items if item is not MISSING]
        return items if items or node.required else MISSING
    if isinstance(node, UnionNode):
        if node.selected is None:
            return MISSING
        body = value_of(node.selected.node, cleaned)
        return {node.discriminator: node.selected.value, **(body or {})}
    raise TypeError(f"Unknown node {node!r}")


# -- errors ----------------------------------------------------------------------------------------
def chosen_branches(node: Node) -> dict[tuple, int]:
    """``{value path: index in oneOf/anyOf}`` of the branches chosen in ``node``'s form."""
    return {
        n.path: n.selected.index
        for n in _active(node)
        if isinstance(n, UnionNode) and n.selected is not None
    }


def schema_errors(
    schema: dict, value: Any, chosen: dict[tuple, int] | None = None
) -> list[jsonschema.ValidationError]:
    """jsonschema's errors for ``value``, a union's errors narrowed to the branch ``chosen``
    at its path (so "'approve' was expected" from the branches not chosen is dropped)."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    chosen = chosen or {}
    out: list[jsonschema.ValidationError] = []

    def flatten(error: jsonschema.ValidationError) -> None:
        index = chosen.get(tuple(error.absolute_path))
        if error.validator in ("oneOf", "anyOf") and error.context and index is not None:
            for sub in error.context:
                if sub.relative_schema_path and sub.relative_schema_path[0] == index:
                    flatten(sub)
            return
        out.append(error)

    for error in validator.iter_errors(value):
        flatten(error)
    return out


def error_targets(error: jsonschema.ValidationError) -> list[tuple[tuple, str]]:
    """``[(path, message)]`` for one jsonschema error; a missing property's path ends in it."""
    path = tuple(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        return [((*path, p), "This field is required.") for p in missing]
    return [(path, error.message)]


def field_for_path(node: Node, path: tuple) -> str | None:
    """The form field a value path is about: the field at that path, else the first field
    under it, else the nearest field above it; ``None`` when no field is near."""
    by_path: dict[tuple, str] = {}
    for item in _active(node):
        if isinstance(item, FieldNode):
            by_path[item.path] = item.name
        elif isinstance(item, UnionNode):
            by_path[(*item.path, item.discriminator)] = item.name
    if path in by_path:
        return by_path[path]
    for candidate, name in by_path.items():
        if candidate[: len(path)] == path:
            return name
    for cut in range(len(path) - 1, -1, -1):
        if path[:cut] in by_path:
            return by_path[path[:cut]]
    return None


def add_schema_errors(
    form: forms.BaseForm,
    node: Node,
    schema: dict,
    value: Any,
    *,
    path_map: Any = None,
    chosen: dict[tuple, int] | None = None,
    field_map: Any = None,
) -> bool:
    """Validate ``value`` against ``schema`` and put each error on the field it is about.

    ``path_map(path) -> path | None`` translates a value path into ``node``'s when the schema
    describes a larger value; ``field_map(path) -> name | None`` names fields outside ``node``;
    ``chosen`` is :func:`chosen_branches` (default: ``node``'s). Returns whether it was valid.
    """
    valid = True
    chosen = chosen_branches(node) if chosen is None else chosen
    for error in schema_errors(schema, value, chosen):
        for path, message in error_targets(error):
            valid = False
            local = path_map(path) if path_map else path
            name = field_map(path) if field_map else None
            if name is None and local is not None:
                name = field_for_path(node, local)
            if name is not None and name in form.fields:
                if name not in form.errors:
                    form.add_error(name, message)
            else:
                where = " › ".join(label_for(p) for p in path) or "The answer"
                form.add_error(None, f"{where}: {message}")
    return valid
