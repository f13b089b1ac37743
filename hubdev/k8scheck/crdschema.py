"""A CustomResourceDefinition's ``openAPIV3Schema`` as a JSON schema kubeconform can check against.

The API server refuses a field its structural schema does not declare (``kubectl apply
--validate=strict``) unless the schema says ``x-kubernetes-preserve-unknown-fields``; JSON schema
allows unknown fields unless told otherwise. So every object that lists ``properties`` gets
``additionalProperties: false`` where the CRD does not preserve unknown fields, and the two OpenAPI
3.0 extensions JSON schema lacks are spelled out: ``nullable`` and ``x-kubernetes-int-or-string``.
Only the schema is converted; defaulting, CEL rules (``x-kubernetes-validations``) and list-map keys
are the API server's business and are not checked here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

JSON_SCHEMA_DRAFT = "http://json-schema.org/draft-04/schema#"
"""OpenAPI 3.0's schema object is draft 4's (``exclusiveMinimum`` is a boolean there)."""

_SCHEMA_KEYS_WITH_SUBSCHEMA = ("items", "not", "additionalProperties")
_SCHEMA_KEYS_WITH_SUBSCHEMA_LIST = ("allOf", "anyOf", "oneOf")


def to_json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A strict JSON schema (draft 4) for one version's ``openAPIV3Schema``."""
    converted = _convert(schema)
    converted["$schema"] = JSON_SCHEMA_DRAFT
    return converted


def _convert(node: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {name: _convert(sub) for name, sub in value.items()}
        elif key in _SCHEMA_KEYS_WITH_SUBSCHEMA and isinstance(value, Mapping):
            out[key] = _convert(value)
        elif key in _SCHEMA_KEYS_WITH_SUBSCHEMA_LIST and isinstance(value, list):
            out[key] = [_convert(sub) for sub in value]
        elif key.startswith("x-kubernetes-") or key == "nullable":
            continue  # handled below; JSON schema has no such keywords
        else:
            out[key] = value
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if node.get("x-kubernetes-int-or-string") is True:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}, *out.get("anyOf", [])]
    # Only real objects: the property lists inside oneOf/anyOf alternatives constrain, not declare.
    is_object = node.get("type") == "object" and "properties" in node
    if is_object and not preserve and "additionalProperties" not in node:
        out["additionalProperties"] = False
    if node.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def crd_schemas(crd: Mapping[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(group, lower-case kind, version, JSON schema) for every served version of a CRD."""
    spec = crd["spec"]
    group = str(spec["group"])
    kind = str(spec["names"]["kind"]).lower()
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            raise ValueError(
                f"CRD {crd['metadata']['name']} version {version['name']} has no openAPIV3Schema"
            )
        yield group, kind, str(version["name"]), to_json_schema(schema)
