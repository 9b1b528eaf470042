"""JSON request bodies, bounded: at most ``MAX_JSON_DEPTH`` levels of nesting.

Python's JSON decoder recurses once per level, so a body of a few thousand ``[`` would hit the
interpreter's recursion limit; and no request of this API nests more than three levels. Deeper
bodies are refused as malformed (400), whichever way they got here.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 16


class JsonTooDeep(ValueError):
    pass


def load_json(raw: bytes | str) -> Any:
    """Decode ``raw``; raises ``ValueError`` for invalid JSON and :class:`JsonTooDeep` past
    :data:`MAX_JSON_DEPTH` levels."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _nesting(text) > MAX_JSON_DEPTH:
        raise JsonTooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
    try:
        return json.loads(text)
    except RecursionError as exc:  # belt and braces: _nesting bounds it first
        raise JsonTooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.") from exc


def _nesting(text: str) -> int:
    """The deepest bracket nesting outside strings (a linear scan, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with the depth bound (and the same ``malformed_request`` answer)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", "utf-8")
        raw = stream.read() if stream is not None else b""
        try:
            return load_json(raw.decode(encoding))
        except JsonTooDeep as exc:
            raise exceptions.ParseError(str(exc)) from exc
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
