"""Stripe's reference data (`<project root>/../shared/stripe`) and a response validator
for Stripe's OpenAPI 3.0 description of its API (`spec3.json.gz`, API 2023-08-16).

    spec = load_stripe_spec()           # parsed once per test session
    problems = spec.check("GET", "/v1/payment_intents/pi_123", 200, body)

What is checked: JSON types, enums, required fields, `nullable`, `anyOf`/`oneOf`/`allOf`
(expandable fields are `anyOf` of an id string and the object) and `$ref`s. What is not:
fields the spec does not know (Stripe's API is newer than the spec), string lengths.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Schema = dict[str, Any]
SHARED_STRIPE = Path(__file__).resolve().parents[2].parent / "shared" / "stripe"

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


class MissingReferenceData(AssertionError):
    """A test needs Stripe's reference data and it is not where the project expects it."""


def reference_file(name: str) -> Path:
    """`../shared/stripe/<name>` from the project root; fails loudly when it is missing."""
    path = SHARED_STRIPE / name
    if not path.is_file():
        raise MissingReferenceData(
            f"Stripe reference data {name!r} is expected at {path} (the folder shared/stripe "
            "beside the project's root, as CI provides it); this test cannot run without it."
        )
    return path


@functools.cache
def load_stripe_fixtures() -> dict[str, Any]:
    """Stripe's example objects by kind (`fixtures3.json` "resources")."""
    resources: dict[str, Any] = json.loads(reference_file("fixtures3.json").read_text())[
        "resources"
    ]
    return resources


@functools.cache
def load_stripe_spec() -> StripeSpec:
    """Stripe's OpenAPI description, parsed once per test session (it is large)."""
    with gzip.open(reference_file("spec3.json.gz")) as raw:
        return StripeSpec(json.load(raw))


@dataclass(frozen=True)
class _Operation:
    pattern: re.Pattern[str]
    params: int  # fewer template parameters wins: `/search` before `/{intent}`
    template: str
    ok: Schema | None
    error: Schema | None


def _json_schema(response: Schema | None) -> Schema | None:
    if response is None:
        return None
    schema: Schema | None = response.get("content", {}).get("application/json", {}).get("schema")
    return schema


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    body = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{body}$")


class StripeSpec:
    def __init__(self, document: dict[str, Any]) -> None:
        self._schemas: dict[str, Schema] = document["components"]["schemas"]
        self._operations: dict[str, list[_Operation]] = {}
        for template, item in document["paths"].items():
            for method, op in item.items():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                responses = op["responses"]
                self._operations.setdefault(method.upper(), []).append(
                    _Operation(
                        _compile(template),
                        template.count("{"),
                        template,
                        _json_schema(responses.get("200")),
                        _json_schema(responses.get("default")),
                    )
                )
        for ops in self._operations.values():
            ops.sort(key=lambda o: o.params)

    def schema(self, name: str) -> Schema:
        return self._schemas[name]

    def operation(self, method: str, path: str) -> _Operation | None:
        for op in self._operations.get(method.upper(), []):
            if op.pattern.match(path):
                return op
        return None

    def check(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """What in this response disagrees with the spec (empty when it conforms)."""
        if status >= 400:
            return self.violations(self._schemas["error"], body, "")
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path} is not an operation in Stripe's API"]
        if op.ok is None:
            return [f"{method} {op.template} has no 200 response in Stripe's API"]
        if status != 200:
            return [f"status {status}: Stripe answers {method} {op.template} with 200"]
        return self.violations(op.ok, body, "")

    def _resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            schema = self._schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def violations(self, schema: Schema, value: Any, where: str) -> list[str]:
        schema = self._resolve(schema)
        at = where or "<root>"
        if value is None:
            return [] if schema.get("nullable") else [f"{at}: null, the spec says not nullable"]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self._any_of(schema[key], value, where)
        problems: list[str] = []
        for part in schema.get("allOf", []):
            problems += self.violations(part, value, where)
        kind = schema.get("type")
        if kind is not None and not _is_type(value, kind):
            return [*problems, f"{at}: {type(value).__name__} {value!r:.60}, expected {kind}"]
        if "enum" in schema and value not in schema["enum"]:
            return [*problems, f"{at}: {value!r} is not one of {schema['enum']}"]
        if isinstance(value, dict):
            problems += self._object(schema, value, where)
        elif isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                problems += self.violations(schema["items"], item, f"{where}[{i}]")
        return problems

    def _object(self, schema: Schema, value: dict[str, Any], where: str) -> list[str]:
        prefix = f"{where}." if where else ""
        problems = [
            f"{prefix}{name}: required, missing"
            for name in schema.get("required", [])
            if name not in value
        ]
        known: dict[str, Schema] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in known:
                problems += self.violations(known[name], item, prefix + name)
            elif not known and isinstance(extra, dict):  # a map, like `metadata`
                problems += self.violations(extra, item, prefix + name)
        return problems

    def _any_of(self, options: list[Schema], value: Any, where: str) -> list[str]:
        tried = [self.violations(option, value, where) for option in options]
        if any(not problems for problems in tried):
            return []
        # Report the branch the value claims to be (its `object`), else one of its type.
        same_type = [
            problems
            for option, problems in zip(options, tried, strict=True)
            if _is_type(value, self._resolve(option).get("type", "object"))
        ]
        claimed = [
            problems
            for option, problems in zip(options, tried, strict=True)
            if isinstance(value, dict) and _names_object(self._resolve(option), value)
        ]
        return min(claimed or same_type or tried, key=len)


def _is_type(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _TYPES.get(kind, (object,)))


def _names_object(schema: Schema, value: dict[str, Any]) -> bool:
    """`value` has the `object` and the other fixed-value fields (`deleted`) of `schema`."""
    known = schema.get("properties", {})
    if value.get("object") not in known.get("object", {}).get("enum", []):
        return False
    fixed = [n for n in schema.get("required", []) if "enum" in known.get(n, {})]
    return all(name in value for name in fixed)
