"""JSON-LD for badges: the bundled contexts, an offline document loader, safe mode and RDFC-1.0 canonical form.

Contexts are data shipped in ``contexts/`` (see ``contexts/index.json`` for where each file came from) and are
never fetched: a document naming any other context is refused with :class:`UnknownContextError`.

**Safe mode.** A Data Integrity signature covers the canonical RDF of a document, not its JSON. Anything the
JSON-LD processor silently drops on the way to RDF is therefore unsigned: a verifier would accept a credential
with an extra ``"score": "A+"`` added after signing. jsonld.js refuses such documents in its ``safe`` mode;
pyld has no such mode, so :func:`check_safe_mode` emulates it and refuses, before signing and when verifying:

1. a ``@context`` that is not a list of bundled context URLs (inline contexts and nested ``@context`` keys
   could define terms no verifier knows);
2. a property the contexts do not define (pyld reports every property it drops during expansion);
3. a property, a node type or a ``@vocab``-relative IRI that expands to an IRI none of the bundled contexts
   defines (catches compact IRIs such as ``xsd:foo`` and terms caught by a ``@vocab``);
4. a node ``id`` that is not an absolute IRI or a blank node (relative IRIs are dropped from RDF);
5. ``null`` values (dropped silently) and non-integer numbers (pyld and jsonld.js write doubles differently
   in canonical N-Quads, so the two would sign different bytes);
6. control characters in strings other than tab, newline and carriage return, and characters that canonical
   N-Quads escapes inside IRIs (pyld's N-Quads writer escapes fewer characters than RDFC-1.0 requires; with
   these refused, pyld's URDNA2015 output is byte-for-byte the RDFC-1.0 canonical form).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pyld import jsonld  # type: ignore[import-untyped]
from pyld.context_resolver import ContextResolver  # type: ignore[import-untyped]

from credflow.badges.errors import BadgeError, UnknownContextError, UnsafeDocumentError

CONTEXTS_DIR = Path(__file__).resolve().with_name("contexts")

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
#: The context URL the current OB 3.0 specification (and its JSON schema) uses.
OB_V3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
#: Needed only by credentials using 1EdTech-specific types (1EdTechRevocationList, ...); credflow issues none.
OB_EXTENSIONS_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"

JsonObject = dict[str, Any]

_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$")
# Code points whose N-Quads escaping differs between pyld (URDNA2015) and RDFC-1.0 (jsonld.js' rdf-canonize).
_BAD_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BAD_IRI = re.compile(r"[\x00-\x20<>\"{}|^`\\]")

# Resolved contexts are cached per URL (there are only the bundled few); a private cache keeps other pyld users'
# loaders, which may map the same URLs to other documents, out of ours.
_RESOLVED: dict[str, Any] = {}


@functools.cache
def bundled_contexts() -> Mapping[str, JsonObject]:
    """Every bundled context document by URL, read once from ``contexts/``."""
    index = json.loads((CONTEXTS_DIR / "index.json").read_text(encoding="utf-8"))
    return {url: json.loads((CONTEXTS_DIR / entry["file"]).read_text(encoding="utf-8")) for url, entry in index.items()}


def document_loader(url: str, options: object = None) -> JsonObject:
    """pyld document loader that serves only the bundled contexts.

    Args:
        url: The context URL pyld asks for.
        options: pyld's loader options (unused).

    Returns:
        pyld's remote document record with a private copy of the context (pyld may change what it is given).

    Raises:
        UnknownContextError: The URL is not a bundled context; nothing is ever fetched.
    """
    contexts = bundled_contexts()
    if url not in contexts:
        raise UnknownContextError(
            f"JSON-LD context {url!r} is not bundled with credflow (contexts are never fetched at run time); "
            f"bundled: {', '.join(sorted(contexts))}"
        )
    # "static" lets pyld keep the resolved context across operations (as jsonld.js does for static contexts).
    return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(contexts[url]), "tag": "static"}


def _options(**extra: Any) -> dict[str, Any]:
    return {
        "documentLoader": document_loader,
        "contextResolver": ContextResolver(_RESOLVED, document_loader),
        **extra,
    }


def _unwrap(exc: Exception) -> BadgeError | None:
    """The badge error (an unknown context) that pyld wrapped in its own error, if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, BadgeError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _run(operation: Callable[[], Any]) -> Any:
    try:
        return operation()
    except jsonld.JsonLdError as exc:
        cause = _unwrap(exc)
        if cause is not None:
            raise cause from exc
        raise UnsafeDocumentError([f"JSON-LD processing failed: {exc}"]) from exc


def expand(document: Mapping[str, Any], *, on_dropped: Callable[[str | None], None] | None = None) -> list[Any]:
    """Expand ``document`` with the bundled contexts only.

    Args:
        document: A compacted JSON-LD document.
        on_dropped: Called with the (unexpanded or relative) IRI of every property expansion drops.

    Returns:
        The expanded document.
    """
    handler = on_dropped or (lambda _: None)
    return list(_run(lambda: jsonld.expand(dict(document), _options(base=None), on_property_dropped=handler)))


def canonize(document: Mapping[str, Any] | list[Any]) -> str:
    """The RDFC-1.0 canonical N-Quads of ``document`` (pyld's URDNA2015; see the module notes on escaping).

    Args:
        document: A JSON-LD document that passed :func:`check_safe_mode`, compacted or (cheaper: no context
            processing) the expanded form it returned.

    Returns:
        Canonical N-Quads, one quad a line, sorted.
    """
    return str(
        _run(
            lambda: jsonld.normalize(
                copy.deepcopy(document), _options(algorithm="URDNA2015", format="application/n-quads", base=None)
            )
        )
    )


@functools.cache
def defined_iris() -> frozenset[str]:
    """Every IRI a term of a bundled context maps to, scoped contexts included."""
    found: set[str] = set()

    def resolve(value: str, ctx: Mapping[str, Any]) -> str:
        # A definition may name another term ("AchievementCredential": {"@id": "OpenBadgeCredential"})
        # or use a prefix ("xsd:dateTime"); resolve both against the context that holds it.
        if _ABSOLUTE_IRI.match(value) and value.split(":", 1)[0] not in ctx:
            return value
        if ":" in value:
            prefix, suffix = value.split(":", 1)
            base = ctx.get(prefix)
            base_iri = base if isinstance(base, str) else base.get("@id") if isinstance(base, dict) else None
            return f"{base_iri}{suffix}" if isinstance(base_iri, str) else value
        target = ctx.get(value)
        if isinstance(target, str):
            return resolve(target, ctx)
        if isinstance(target, dict) and isinstance(target.get("@id"), str):
            return resolve(target["@id"], ctx)
        return value

    def walk(ctx: Any) -> None:
        if not isinstance(ctx, dict):
            return
        for term, definition in ctx.items():
            if term.startswith("@"):
                continue
            if isinstance(definition, str):
                found.add(resolve(definition, ctx))
            elif isinstance(definition, dict):
                if isinstance(definition.get("@id"), str):
                    found.add(resolve(definition["@id"], ctx))
                if isinstance(definition.get("@type"), str):
                    found.add(resolve(definition["@type"], ctx))
                walk(definition.get("@context"))

    for document in bundled_contexts().values():
        walk(document.get("@context"))
    return frozenset(iri for iri in found if _ABSOLUTE_IRI.match(iri))


def _walk_json(value: Any, path: str) -> Iterator[tuple[str, bool, Any]]:
    """Every key and leaf of a JSON tree as (path, is_key, key or leaf)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", True, key
            yield from _walk_json(item, f"{path}.{key}")
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _walk_json(item, f"{path}[{position}]")
    else:
        yield path, False, value


def _input_problems(document: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    contexts = document.get("@context")
    urls = contexts if isinstance(contexts, list) else [contexts]
    if not contexts:
        problems.append("@context is missing")
    for url in urls:
        if not isinstance(url, str):
            problems.append("@context holds an inline context (only bundled context URLs are allowed)")
        elif url not in bundled_contexts():
            raise UnknownContextError(f"JSON-LD context {url!r} is not bundled with credflow (never fetched)")
    for path, is_key, value in _walk_json(dict(document), "$"):
        if is_key and value == "@context" and path != "$.@context":
            problems.append(f"{path}: nested @context (only the top-level bundled contexts are allowed)")
        elif value is None:
            problems.append(f"{path} is null (JSON-LD drops it silently)")
        elif isinstance(value, float):
            problems.append(f"{path} is a non-integer number (its canonical form differs between processors)")
        elif isinstance(value, str) and _BAD_TEXT.search(value):
            problems.append(f"{path} holds control characters other than tab, newline and carriage return")
    return problems


def _expanded_problems(expanded: Any, defined: frozenset[str]) -> list[str]:
    problems: list[str] = []

    def check_iri(iri: Any, what: str) -> None:
        if not isinstance(iri, str):
            problems.append(f"{what} is not a string")
        elif iri.startswith("_:"):
            return
        elif not _ABSOLUTE_IRI.match(iri):
            problems.append(f"{what} {iri!r} is not an absolute IRI (it would be dropped from the signed data)")
        elif _BAD_IRI.search(iri):
            problems.append(f"{what} {iri!r} holds characters that IRIs may not hold")

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if "@value" in node:
            if "@type" in node:
                check_iri(node["@type"], "datatype")
            return
        for key, value in node.items():
            if key == "@id":
                check_iri(value, "id")
            elif key == "@type":
                for type_iri in value if isinstance(value, list) else [value]:
                    check_iri(type_iri, "type")
                    if isinstance(type_iri, str) and _ABSOLUTE_IRI.match(type_iri) and type_iri not in defined:
                        problems.append(f"type {type_iri!r} is not defined by the bundled contexts")
            elif not key.startswith("@") and key not in defined:
                problems.append(f"property {key!r} is not defined by the bundled contexts")
            if not key.startswith("@") or key in ("@graph", "@list", "@set", "@included", "@reverse"):
                walk(value)

    walk(expanded)
    return problems


def check_safe_mode(document: Mapping[str, Any]) -> list[Any]:
    """Refuse a document that holds data a signature over its canonical form would not cover.

    Args:
        document: A compacted JSON-LD document (a credential, its proof options, a status list).

    Returns:
        The expanded document, for callers that go on to look at it.

    Raises:
        UnknownContextError: A context URL is not bundled.
        UnsafeDocumentError: Anything else the module notes list; ``problems`` names each one.
    """
    problems = _input_problems(document)
    dropped: list[str | None] = []
    expanded = expand(document, on_dropped=dropped.append)
    problems += [f"term {term!r} is not defined by the bundled contexts (it would not be signed)" for term in dropped]
    problems += _expanded_problems(expanded, defined_iris())
    if problems:
        raise UnsafeDocumentError(dict.fromkeys(problems))
    return expanded
