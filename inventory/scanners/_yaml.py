"""Safe, fast YAML loading for every scanner: many documents, line numbers, hostile input.

One call parses a file once with libyaml and keeps each document's line table (what line
look-ups need of its node tree, see :class:`Doc`), so a scanner gets plain Python data *and*
cheap line numbers for evidence (``doc.line_of(("metadata", "name"))``) without a second parse.

Two paths give the same documents and problems. The optional C extension ``_cyaml`` (built by
the install when a compiler and libyaml's headers are there) composes a plain text's data and
line table straight from libyaml's events; it declines anything unusual (syntax errors,
anchors, tags, complex or merge keys, deep nesting...), and PyYAML's loader
(``yaml.CSafeLoader``, the reference semantics) reads those texts, and every text when the
extension is absent. Setting the module attribute ``_cyaml`` to None forces the PyYAML path.

Hostile or broken input never raises:

* malformed YAML → a :class:`YamlProblem` (line + message); documents before the error are kept;
* alias bombs ("billion laughs") → the document is dropped when its alias-expanded size
  exceeds :attr:`Limits.max_nodes` (checked only when the text uses anchors, so it is free
  for ordinary files); recursive aliases are rejected the same way;
* deep nesting → documents deeper than :attr:`Limits.max_depth` are dropped (libyaml itself
  stops at 1000 levels; we stop earlier so recursive walkers in scanners stay safe).

Typical use in a scanner::

    from inventory.scanners._yaml import load_documents

    for doc in load_documents(src, frag):      # problems become warnings on ``frag``
        if isinstance(doc.data, dict):
            evidence = src.evidence(doc.line_of(("metadata", "name")))
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

try:
    from inventory.scanners import _cyaml
except ImportError:  # not built (no compiler or no libyaml headers): PyYAML's path only
    _cyaml = None

if TYPE_CHECKING:  # pragma: no cover
    from inventory.scanners.base import Fragment, SourceFile

# libyaml when available (it almost always is with PyYAML wheels); pure Python otherwise.
_BASE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The tag of a plain scalar depends only on its text, and an estate repeats the same texts
# (`name`, `true`, `80`, image tags...) in every file: resolving each once per process,
# instead of running the resolver's regexes on every scalar, is a third of the composing
# time. Bounded: cleared when it grows past this many entries.
_TAG_CACHE: dict[str, str] = {}
_TAG_CACHE_MAX = 200_000

_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class _Loader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader with memoised scalar tag resolution (same tags, see ``_TAG_CACHE``)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        if not self.yaml_path_resolvers:
            # libyaml's composer calls these two around every node, and without path
            # resolvers PyYAML's do nothing: C functions that ignore their arguments do the
            # same nothing without a Python call (a tenth of the composing time).
            self.descend_resolver = operator.is_
            self.ascend_resolver = tuple
            # It looks `resolve` up on the loader for every node too: a plain function found
            # on the instance is called without making a bound method (4% of parsing).
            self.resolve = _plain_resolver(super().resolve)

    def dispose(self) -> None:
        """As PyYAML's; and the memoised ``resolve`` is let go: it refers back to this loader,
        a reference cycle that only the cyclic collector would free (see :func:`_fast_construct`)."""
        self.__dict__.pop("resolve", None)
        super().dispose()


def _plain_resolver(resolve: Any) -> Any:
    """PyYAML's ``resolve`` (bound to a loader without path resolvers), memoised for plain scalars.

    Without path resolvers, PyYAML's resolver gives a quoted scalar the str tag, a plain one
    the tag of its text alone, a collection its default tag: those answers are given here
    without its call.
    """

    def plain_resolve(kind: Any, value: Any, implicit: Any, _scalar: type = yaml.ScalarNode,
                      _mapping: type = yaml.MappingNode, _known: Any = _TAG_CACHE.get) -> Any:
        if kind is _scalar:
            if not implicit[0]:
                return _STR_TAG
            tag = _known(value)
            if tag is None:
                tag = resolve(kind, value, implicit)
                if len(_TAG_CACHE) >= _TAG_CACHE_MAX:
                    _TAG_CACHE.clear()
                _TAG_CACHE[value] = tag
            return tag
        return _MAP_TAG if kind is _mapping else _SEQ_TAG

    return plain_resolve


_LOADER: type = _Loader

# What the C composer asks of Python: the value of a plain scalar, by its text alone (tags of
# plain scalars depend only on their text, see ``_TAG_CACHE``). The values are immutable
# (None, bools, numbers, dates, the text itself), so one object serves every occurrence.
# Bounded like the tag cache.
_PLAIN_VALUES: dict[str, Any] = {}
_DECLINE = object()  # what _plain_value returns for a text the C composer must leave to PyYAML
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _plain_value(text: str) -> Any:
    """The value PyYAML's safe loader gives the plain scalar ``text`` (memoised), or ``_DECLINE``.

    Declined: tags the fast constructor leaves to PyYAML (merge ``<<`` and value ``=`` keys)
    and values its constructor rejects (``2024-13-02``): the C composer then declines the text.
    """
    tag = _TAG_CACHE.get(text)
    if tag is None:
        tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
        if len(_TAG_CACHE) >= _TAG_CACHE_MAX:
            _TAG_CACHE.clear()
        _TAG_CACHE[text] = tag
    if tag == _STR_TAG:
        value: Any = text
    elif tag in _SCALAR_TAGS:
        try:
            value = _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, yaml.ScalarNode(tag, text))
        except Exception:  # a bad value: PyYAML's path reports it
            return _DECLINE
    else:
        return _DECLINE
    # A NaN is not shared: PyYAML builds a new one each time, and two NaN keys of one mapping
    # are two keys only when they are two objects.
    if value == value:
        if len(_PLAIN_VALUES) >= _TAG_CACHE_MAX:
            _PLAIN_VALUES.clear()
        _PLAIN_VALUES[text] = value
    return value


PathItem = str | int
Path = tuple[PathItem, ...]

# A document's line table (``Doc.node``): what line look-ups need of its node tree, built by
# ``_cyaml`` or by :func:`_line_table` from PyYAML's nodes, and much cheaper than those. Each
# node is one of
#   a scalar:   its 1-based line (an int);
#   a mapping:  (MAPPING, line, [(key text, key line, value node), ...]): every entry whose key
#               is a scalar, in order, repeated keys too (the data keeps the last value of a
#               key, line look-ups find the first: as with PyYAML's nodes);
#   a sequence: (SEQUENCE, line, [item node, ...]).
MAPPING = 1
SEQUENCE = 2
LineNode = int | tuple


@dataclass(frozen=True)
class Limits:
    """Bounds on what one document may expand to."""

    max_nodes: int = 200_000  # alias-expanded nodes per document
    max_depth: int = 64  # nesting levels per document


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class YamlProblem:
    """Why (part of) a file could not be read, and where (1-based line)."""

    line: int
    message: str


@dataclass
class Doc:
    """One YAML document: its data, where it starts, and its line table for line look-ups."""

    data: Any
    line: int  # 1-based line of the document's first content
    index: int  # 0-based position in the file (counting every document, empty ones too)
    node: LineNode | None = field(default=None, repr=False)  # see ``LineNode``

    def get(self, *path: PathItem, default: Any = None) -> Any:
        """The value at ``path`` (mapping keys / sequence indexes), or ``default``."""
        cur = self.data
        for part in path:
            if isinstance(cur, dict) and part in cur:
                cur = cur[part]
            elif isinstance(cur, list) and isinstance(part, int) and -len(cur) <= part < len(cur):
                cur = cur[part]
            else:
                return default
        return cur

    def child(self, *path: PathItem) -> "Doc":
        """The sub-document at ``path`` (e.g. one item of a ``kind: List``), with its own lines."""
        node = self.node
        for part in path:
            node = _child_node(node, part)
        line = _node_line(node) if node is not None else self.line_of(path)
        return Doc(data=self.get(*path), line=line, index=self.index, node=node)

    def line_of(self, path: Path = ()) -> int:
        """The 1-based line of ``path`` (the key's line for a mapping entry).

        When the path does not exist, the line of its deepest existing ancestor; when
        nothing matches, the document's first line. Never raises.
        """
        node = self.node
        line = self.line
        for part in path:
            if node.__class__ is not tuple:
                return line
            kind, _, children = node  # type: ignore[misc]
            if kind == MAPPING:
                text = str(part)
                for key_text, key_line, value in children:
                    if key_text == text:
                        line, node = key_line, value
                        break
                else:
                    return line
            elif isinstance(part, int) and 0 <= part < len(children):
                node = children[part]
                line = node if node.__class__ is int else node[1]
            else:
                return line
        return line


def _node_line(node: LineNode) -> int:
    """The 1-based line where a node of a line table starts."""
    return node if node.__class__ is int else node[1]  # type: ignore[index, return-value]


def _child_node(node: LineNode | None, part: PathItem) -> LineNode | None:
    if node.__class__ is tuple:
        kind, _, children = node  # type: ignore[misc]
        if kind == MAPPING:
            text = str(part)
            for key_text, _, value in children:
                if key_text == text:
                    return value
        elif isinstance(part, int) and 0 <= part < len(children):
            return children[part]
    return None


def mapping_entries(node: LineNode | None) -> list[tuple[str, int, LineNode]] | None:
    """The ``(key text, key line, value node)`` entries of a mapping node of a line table
    (every scalar key, in order), or None when ``node`` is not a mapping."""
    if node.__class__ is tuple and node[0] == MAPPING:  # type: ignore[index]
        return node[2]  # type: ignore[index]
    return None


def _line_table(node: yaml.Node) -> LineNode:
    """The line table (see ``LineNode``) of a document PyYAML composed and constructed.

    Built after construction: merge keys rewrite their mapping's node (the merged entries
    first, without the ``<<`` entries), and line look-ups see that tree, as they always did.
    Recursive: only documents within :attr:`Limits.max_depth` get here, and the fast
    constructor walks them the same way (a node shared through aliases is converted once per
    use: at most :attr:`Limits.max_nodes`).
    """
    scalar = yaml.ScalarNode
    line = node.start_mark.line + 1
    # Scalars, most nodes, are converted inline, without a call.
    if isinstance(node, yaml.MappingNode):
        return (MAPPING, line, [(k.value, k.start_mark.line + 1,
                                 v.start_mark.line + 1 if v.__class__ is scalar else _line_table(v))
                                for k, v in node.value if isinstance(k, scalar)])
    if isinstance(node, yaml.SequenceNode):
        return (SEQUENCE, line, [v.start_mark.line + 1 if v.__class__ is scalar else _line_table(v)
                                 for v in node.value])
    return line


def _problem_from(exc: yaml.YAMLError) -> YamlProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    msg = f"{context}, {problem}" if context else str(problem)
    return YamlProblem(line=line, message=f"invalid YAML: {msg}")


def _check_shape(root: yaml.Node, limits: Limits) -> str | None:
    """Why ``root`` is too big or too deep once aliases are expanded, or ``None``.

    Iterative (no recursion) and memoised per node, so shared alias targets are sized
    once: the cost is linear in the *unexpanded* tree even for a billion-laughs document.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if done:
            on_path.discard(nid)
            kids = _children(node)
            total = 1 + sum(size[id(k)] for k in kids)
            deep = 1 + max((depth[id(k)] for k in kids), default=0)
            if total > limits.max_nodes:
                return f"document expands to more than {limits.max_nodes} nodes (alias bomb?)"
            if deep > limits.max_depth:
                return f"document nested deeper than {limits.max_depth} levels"
            size[nid], depth[nid] = total, deep
            continue
        if nid in size:
            continue
        if nid in on_path:
            return "recursive alias (a node contains itself)"
        on_path.add(nid)
        stack.append((node, True))
        for kid in _children(node):
            if id(kid) in on_path:
                return "recursive alias (a node contains itself)"
            if id(kid) not in size:
                stack.append((kid, False))
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _max_depth_cheap(root: yaml.Node, limit: int) -> bool:
    """Whether ``root`` is nested deeper than ``limit`` (no aliases: a plain tree walk)."""
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, d = stack.pop()
        if d > limit:
            return True
        if isinstance(node, yaml.MappingNode):
            stack.extend((v, d + 1) for _, v in node.value if not isinstance(v, yaml.ScalarNode))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((v, d + 1) for v in node.value if not isinstance(v, yaml.ScalarNode))
    return False


# Scalar tags the fast constructor builds with the safe constructor's own function.
_INT_TAG = "tag:yaml.org,2002:int"
_SCALAR_TAGS = frozenset({"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                          "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"})


_UNBUILT = object()


class _Slow(Exception):
    """The document needs PyYAML's own constructor (merge keys, other tags, odd keys, a bad value)."""


class _TooDeep(Exception):
    """The document is nested deeper than the limit."""


def _fast_construct(loader: Any, root: yaml.Node, max_depth: int) -> Any:
    """The data of ``root``, as ``loader.construct_document(root)`` builds it, for plain documents.

    PyYAML's constructor is generic (generators for recursive structures, a method lookup
    per node, merge-key flattening); documents without aliases, merge keys, complex keys or
    unusual tags need none of it. Raises :class:`_Slow` for any other document (the caller
    then uses PyYAML's constructor, which gives the same data or the same error), and
    :class:`_TooDeep` when a collection sits deeper than ``max_depth`` (counted as
    :func:`_max_depth_cheap` counts: collections only).
    """
    constructors = loader.yaml_constructors
    scalar_node, mapping_node, sequence_node = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode

    def scalar(node: yaml.Node) -> Any:
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        if tag not in _SCALAR_TAGS:
            raise _Slow
        try:
            if tag == _INT_TAG:
                # A plain decimal (replicas, ports...) as the safe constructor reads it, without
                # its call (a leading zero is octal there: left to it, as are signs, `_` and bases).
                value = node.value
                if value.isdigit() and value.isascii() and (value[0] != "0" or len(value) == 1):
                    return int(value)
            return constructors[tag](loader, node)
        except Exception as exc:  # a bad value: PyYAML's path reports it exactly
            raise _Slow from exc

    def build(node: yaml.Node, depth: int) -> Any:
        if depth > max_depth:
            raise _TooDeep
        cls = node.__class__
        if cls is mapping_node:
            if node.tag != _MAP_TAG:
                raise _Slow
            out: dict = {}
            # Strings, most keys and values, are taken without a call to scalar().
            for key_node, value_node in node.value:
                if key_node.__class__ is not scalar_node:
                    raise _Slow  # complex keys (scalar() refuses merge `<<` and value `=` keys)
                key = key_node.value if key_node.tag == _STR_TAG else scalar(key_node)
                if value_node.__class__ is scalar_node:
                    out[key] = value_node.value if value_node.tag == _STR_TAG else scalar(value_node)
                else:
                    out[key] = build(value_node, depth + 1)
            return out
        if cls is sequence_node:
            if node.tag != _SEQ_TAG:
                raise _Slow
            return [(v.value if v.tag == _STR_TAG else scalar(v)) if v.__class__ is scalar_node else build(v, depth + 1)
                    for v in node.value]
        if cls is scalar_node:
            return scalar(node)
        raise _Slow

    try:
        return build(root, 1)
    finally:
        # `build` calls itself through its closure: a reference cycle, holding the loader
        # and all it refers to, that only the cyclic collector would free (a scan worker runs
        # it rarely). Broken here, reference counting frees them when the document is built.
        # Compiled (inventory.compiled), every nested function holds the one scope that holds
        # them all: `scalar` is let go too.
        build = scalar = None  # type: ignore[assignment]


def parse_documents(text: str, limits: Limits = DEFAULT_LIMITS) -> tuple[list[Doc], list[YamlProblem]]:
    """Every non-empty document of ``text``, and the problems met while reading it.

    Never raises for bad input. Parsing stops at the first syntax error (later documents
    cannot be located reliably); documents that break a limit are skipped individually.
    """
    if _cyaml is not None:
        composed = _cyaml.compose(text, limits.max_depth, _PLAIN_VALUES, _plain_value, _DECLINE)
        if composed is not None:  # a plain text: no problems (it declines all of those)
            return [Doc(data, line, index, node) for data, line, index, node in composed], []
    docs: list[Doc] = []
    problems: list[YamlProblem] = []
    # Alias expansion can only blow up when the text defines anchors; skip that walk otherwise.
    uses_aliases = "&" in text and "*" in text
    loader = _LOADER(text)
    index = 0
    try:
        while True:
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
            except yaml.YAMLError as exc:
                problems.append(_problem_from(exc))
                break
            if node is None:
                index += 1
                continue
            line = node.start_mark.line + 1
            data = _UNBUILT
            if uses_aliases:
                why = _check_shape(node, limits)
            else:
                try:
                    data, why = _fast_construct(loader, node, limits.max_depth), None
                except _TooDeep:
                    why = f"document nested deeper than {limits.max_depth} levels"
                except _Slow:
                    why = f"document nested deeper than {limits.max_depth} levels" if _max_depth_cheap(node, limits.max_depth) else None
            if why:
                problems.append(YamlProblem(line=line, message=f"YAML document skipped: {why}"))
                index += 1
                continue
            try:
                if data is _UNBUILT:
                    data = loader.construct_document(node)
            except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
                # Constructor errors: bad timestamps, unhashable keys, unknown tags...
                msg = _problem_from(exc).message if isinstance(exc, yaml.YAMLError) else f"invalid YAML value: {exc}"
                problems.append(YamlProblem(line=line, message=msg))
                index += 1
                continue
            if data is not None:
                docs.append(Doc(data=data, line=line, index=index, node=_line_table(node)))
            index += 1
    except RecursionError:
        problems.append(YamlProblem(line=1, message="YAML nested too deep to read"))
    finally:
        loader.dispose()
    return docs, problems


def load_documents(
    src: "SourceFile | str", frag: "Fragment | None" = None, limits: Limits = DEFAULT_LIMITS
) -> list[Doc]:
    """The documents of ``src`` (a :class:`SourceFile` or text); problems become warnings on ``frag``."""
    if isinstance(src, str):
        docs, problems = parse_documents(src, limits)
    else:
        # Parsed once per file, whichever scanners read it (see ``SourceFile.parsed``).
        memo = src.parsed
        if memo is not None and memo[0] == limits:
            docs, problems = list(memo[1]), memo[2]
        else:
            docs, problems = parse_documents(src.text, limits)
            src.parsed = (limits, tuple(docs), problems)
    if frag is not None:
        for p in problems:
            frag.warn(p.message, line=p.line)
    return docs


def iter_scalars(data: Any, path: Path = (), max_items: int = 100_000) -> Iterator[tuple[Path, Any]]:
    """Every scalar leaf of ``data`` with its path, iteratively (safe for deep data)."""
    stack: list[tuple[Path, Any]] = [(path, data)]
    seen = 0
    while stack and seen < max_items:
        p, cur = stack.pop()
        seen += 1
        # The children pushed last first, so they pop in document order (a list reversed in
        # place: no generator per collection).
        if isinstance(cur, dict):
            children = [(p + (k,), v) for k, v in cur.items()]
        elif isinstance(cur, list):
            children = [(p + (i,), v) for i, v in enumerate(cur)]
        else:
            yield p, cur
            continue
        children.reverse()
        stack.extend(children)


def iter_scalar_lines(doc: Doc, max_items: int = 100_000) -> Iterator[tuple[Path, Any, int]]:
    """``(path, value, doc.line_of(path))`` for every ``(path, value)`` of ``iter_scalars(doc.data)``.

    One walk over the data and its line table together, instead of one walk down the table
    per scalar: each mapping node's keys are indexed once (first key of each text, as
    :meth:`Doc.line_of` finds it), and a path that leaves the table keeps the line of its
    deepest node, as ``line_of`` does.
    """
    # (path, data, its node or None once the path has left the table, the line so far)
    stack: list[tuple[Path, Any, LineNode | None, int]] = [((), doc.data, doc.node, doc.line)]
    seen = 0
    # The steps down the tree are made inline, not by a call per child: this walk meets every
    # value of every Helm values file.
    while stack and seen < max_items:
        p, cur, node, line = stack.pop()
        seen += 1
        if isinstance(cur, dict):
            if node.__class__ is tuple and node[0] == MAPPING:  # type: ignore[index]
                found: dict[str, tuple[int, LineNode]] = {}
                for key_text, key_line, value_node in node[2]:  # type: ignore[index]
                    if key_text not in found:
                        found[key_text] = (key_line, value_node)
                children = []
                for k, v in cur.items():
                    hit = found.get(k if k.__class__ is str else str(k))
                    children.append((p + (k,), v, hit[1], hit[0]) if hit is not None else (p + (k,), v, None, line))
            else:
                children = [(p + (k,), v, None, line) for k, v in cur.items()]
        elif isinstance(cur, list):
            if node.__class__ is tuple and node[0] == SEQUENCE:  # type: ignore[index]
                nodes = node[2]  # type: ignore[index]
                children = []
                for i, v in enumerate(cur):
                    if i < len(nodes):
                        child = nodes[i]
                        children.append((p + (i,), v, child, child if child.__class__ is int else child[1]))
                    else:
                        children.append((p + (i,), v, None, line))
            else:
                children = [(p + (i,), v, None, line) for i, v in enumerate(cur)]
        else:
            yield p, cur, line
            continue
        stack.extend(reversed(children))
