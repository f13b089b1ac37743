"""The OpenAPI 3.1 description of the ingest API, served at ``/openapi.json``.

Kept as a Python dict next to the handlers so limits come from the running settings (``maxItems``
is the configured batch size) and a test can compare the documented statuses with the code's.
"""

from __future__ import annotations

from typing import Any

from services.contracts.canonical import BODY_RECORDS
from services.contracts.vocabulary import SENDER_KINDS
from services.ingest.checks import AVRO_TYPE, JSON_TYPE
from services.ingest.problems import ALL_TYPES, CONTENT_TYPE, TYPE_BASE
from services.ingest.settings import IngestSettings

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
EXAMPLE_MESSAGE: dict[str, Any] = {
    "message_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "message_type": "placement_started",
    "status": "new",
    "cancels_message_id": None,
    "sender": {"kind": "provider", "code": "12345678"},
    "created_at": "2026-03-02T09:30:00Z",
    "bsn": "123456782",
    "birth_date": "2010-05-17",
    "municipality_code": "0363",
    "placement_id": "P-2026-0001",
    "provider_agb": "12345678",
    "location_code": "L1",
    "care_type": "gesloten",
    "legal_basis": "machtiging",
    "start_date": "2026-03-01",
}


def _problem(description: str, *, retry_after: bool = False, authenticate: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {CONTENT_TYPE: {"schema": _PROBLEM_REF}},
    }
    headers: dict[str, Any] = {}
    if retry_after:
        headers["Retry-After"] = {
            "description": "Seconds to wait before trying again",
            "schema": {"type": "integer", "minimum": 1},
        }
    if authenticate:
        headers["WWW-Authenticate"] = {"schema": {"type": "string"}}
    if headers:
        response["headers"] = headers
    return response


def _common_errors() -> dict[str, Any]:
    return {
        "401": _problem("Missing or unknown bearer token", authenticate=True),
        "429": _problem(
            "Rate limit of this sender, or of failed authentications from this address", retry_after=True
        ),
        "431": _problem("The request line or a header field is larger than allowed"),
        "503": _problem(
            "Kafka unavailable, or (POST) the pipeline is further behind than allowed: nothing was "
            "accepted; try again after Retry-After",
            retry_after=True,
        ),
    }


def openapi_document(settings: IngestSettings) -> dict[str, Any]:
    max_batch = settings.ingest_max_batch
    message = {
        "type": "object",
        "description": (
            "One message in the canonical JSON form of the Jeugdhub contract (docs: messages.md). "
            "Ingest checks only message_id and sender; every other field is checked by the validate "
            "step, whose verdict arrives as a retour record."
        ),
        "required": ["message_id", "sender"],
        "properties": {
            "message_id": {
                "type": "string",
                "maxLength": settings.ingest_max_message_id_chars,
                "description": "Lower-case UUID, unique per sender",
            },
            "message_type": {"type": "string", "enum": sorted(BODY_RECORDS)},
            "sender": {"$ref": "#/components/schemas/Sender"},
        },
        "additionalProperties": True,
    }
    receipt = {
        "type": "object",
        "required": ["message_id", "received", "received_at"],
        "properties": {
            "message_id": {"type": "string"},
            "received": {"type": "boolean", "const": True},
            "received_at": {"type": "string", "description": "YYYY-MM-DDTHH:MM:SSZ (UTC)"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Jeugdhub ingest API",
            "version": "1.0.0",
            "description": (
                "The front door for youth-care providers and municipalities. A 202 means the message "
                "is durably stored (Kafka acknowledged the transaction); its acceptance or rejection "
                "follows as a retour record (GET /v1/retour). Errors are RFC 9457 problem details."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/v1/messages": {
                "post": {
                    "operationId": "postMessages",
                    "summary": f"Send one message or a batch of up to {max_batch}",
                    "description": (
                        "A batch is all-or-nothing: it is written in one Kafka transaction, so either "
                        "every message is accepted or none is. Every message must claim the sender the "
                        f"token belongs to. Body at most {settings.ingest_max_body_bytes} bytes."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON_TYPE: {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Message"},
                                        {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": max_batch,
                                            "items": {"$ref": "#/components/schemas/Message"},
                                        },
                                    ]
                                },
                                "examples": {
                                    "one": {"summary": "One message", "value": EXAMPLE_MESSAGE},
                                    "batch": {"summary": "A batch", "value": [EXAMPLE_MESSAGE]},
                                },
                            },
                            AVRO_TYPE: {
                                "schema": {
                                    "type": "string",
                                    "format": "binary",
                                    "description": "One InboundMessage in Avro single-object encoding",
                                }
                            },
                        },
                    },
                    "responses": {
                        "202": {
                            "description": (
                                "Stored. An object for a single message, an array (request order) for a batch"
                            ),
                            "content": {
                                JSON_TYPE: {
                                    "schema": {
                                        "oneOf": [
                                            {"$ref": "#/components/schemas/Receipt"},
                                            {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Receipt"},
                                            },
                                        ]
                                    }
                                }
                            },
                        },
                        "400": _problem(
                            "Not JSON, not a message, nested deeper than "
                            f"{settings.ingest_max_json_depth} levels, no message_id or one longer than "
                            f"{settings.ingest_max_message_id_chars} characters, no sender, too many "
                            "messages, bad Avro"
                        ),
                        "403": _problem("A message claims a sender other than the token's; nothing stored"),
                        "413": _problem("Body, one message, or its Kafka record larger than allowed"),
                        "415": _problem(f"Content-Type is not {JSON_TYPE} or {AVRO_TYPE}"),
                        **_common_errors(),
                    },
                }
            },
            "/v1/retour": {
                "get": {
                    "operationId": "getRetour",
                    "summary": "The authenticated sender's retour records, oldest first",
                    "parameters": [
                        {
                            "name": "since",
                            "in": "query",
                            "required": False,
                            "description": "The cursor of the previous page; leave out to start at the oldest",
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": settings.ingest_retour_max_limit,
                                "default": 100,
                            },
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of retour records and the cursor to continue from",
                            "content": {JSON_TYPE: {"schema": {"$ref": "#/components/schemas/RetourPage"}}},
                        },
                        "400": _problem("limit out of range, or a cursor not given out for this sender"),
                        **_common_errors(),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "security": [],
                    "summary": "Liveness: the process serves HTTP",
                    "responses": {
                        "200": {"description": "alive", "content": {JSON_TYPE: {"schema": _status()}}}
                    },
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "security": [],
                    "summary": "Readiness: Kafka is reachable and a transactional producer is ready",
                    "responses": {
                        "200": {"description": "ready", "content": {JSON_TYPE: {"schema": _status()}}},
                        "503": {"description": "not ready", "content": {JSON_TYPE: {"schema": _status()}}},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "security": [],
                    "summary": "Prometheus metrics (text exposition format)",
                    "responses": {
                        "200": {
                            "description": "metrics",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "security": [],
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {JSON_TYPE: {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "One token per sender, issued with `jeugdhub tokens add`",
                }
            },
            "schemas": {
                "Sender": {
                    "type": "object",
                    "required": ["kind", "code"],
                    "properties": {
                        "kind": {"type": "string", "enum": list(SENDER_KINDS)},
                        "code": {"type": "string", "description": "AGB code (8 digits) or gemeentecode (4)"},
                    },
                },
                "Message": message,
                "Receipt": receipt,
                "Retour": {
                    "type": "object",
                    "required": ["message_id", "sender", "received_at", "status", "errors"],
                    "properties": {
                        "message_id": {"type": ["string", "null"]},
                        "sender": {"oneOf": [{"$ref": "#/components/schemas/Sender"}, {"type": "null"}]},
                        "received_at": {"type": ["string", "null"]},
                        "status": {"type": "string", "enum": ["accepted", "rejected", "duplicate"]},
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["code", "field", "message"],
                                "properties": {
                                    "code": {"type": "string"},
                                    "field": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "RetourPage": {
                    "type": "object",
                    "required": ["retours", "cursor", "more"],
                    "properties": {
                        "retours": {"type": "array", "items": {"$ref": "#/components/schemas/Retour"}},
                        "cursor": {"type": "string", "description": "Pass as ?since= to continue"},
                        "more": {
                            "type": "boolean",
                            "description": "True when records past the cursor exist now: ask again at once",
                        },
                    },
                },
                "Problem": {
                    "type": "object",
                    "description": "RFC 9457 problem details",
                    "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": {
                            "type": "string",
                            "enum": [TYPE_BASE + t.slug for t in ALL_TYPES],
                        },
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "index": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "The offending element of a batch",
                        },
                    },
                },
            },
        },
    }


def _status() -> dict[str, Any]:
    return {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}
