"""OpenAPI post-processing: the error responses every operation can give.

drf-spectacular documents the successful response of each operation; the
errors come from one handler (core/api_errors.py) and have one shape,
so they are added here to every operation instead of on every view."""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable."},
                "message": {"type": "string", "description": "For people, in their language."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Each bad input and what was wrong with it.",
                },
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}

ERRORS = {
    "400": "The request is malformed or an input is wrong (see fields).",
    "401": "Not signed in, or the token is not valid.",
    "403": "Signed in, but not allowed to do this.",
    "404": "No such object, or not one the caller may see.",
    "405": "The method does not apply here.",
    "406": "The requested response format is not available.",
    "409": "The case is not (or no longer) in a state where this applies.",
    "415": "The request body's content type is not accepted.",
    "422": "An idempotency key was reused for a different request.",
    "429": "Too many requests: wait for the seconds in Retry-After.",
    "503": "A required service or calendar year is not available.",
}


def add_error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                responses.setdefault(
                    code,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )
            if "429" in responses:
                responses["429"].setdefault(
                    "headers",
                    {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}},
                )
    return result
