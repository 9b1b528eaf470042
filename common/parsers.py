"""JSON request bodies, bounded: at most ``MAX_JSON_DEPTH`` levels of nesting.

Python's JSON decoder recurses once per level, so a body of a few thousand ``[`` would hit the
interpreter's recursion limit; and no request of this API nests more than three levels. Deeper
bodies are refused as malformed (400), whichever way they got here.

Strings must be Unicode text: an escaped lone surrogate (``"\\ud800"``) decodes to a Python
string no response or log line can encode as UTF-8 (a field named so would be echoed in the
"Unknown field" error and crash the renderer), so such a body is malformed too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 16
# An escape that may be half of a surrogate pair (the only way JSON text can carry a surrogate).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JsonTooDeep(ValueError):
    pass


def load_json(raw: bytes | str) -> Any:
    """Decode ``raw``; raises ``ValueError`` for invalid JSON (unpaired surrogates included)
    and :class:`JsonTooDeep` past :data:`MAX_JSON_DEPTH` levels."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _nesting(text) > MAX_JSON_DEPTH:
        raise JsonTooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
    try:
        value = json.loads(text)
    except RecursionError as exc:  # belt and braces: _nesting bounds it first
        raise JsonTooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.") from exc
    if _SURROGATE_ESCAPE.search(text):  # rare: pairs (escaped emoji) decode to one character
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("A string holds an unpaired surrogate (not Unicode text).") from exc
    return value


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
            text = raw.decode(encoding)
        except LookupError as exc:  # a charset that is no text encoding: rot13, hex, base64
            raise exceptions.UnsupportedMediaType(media_type or "") from exc
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        try:
            return load_json(text)
        except JsonTooDeep as exc:
            raise exceptions.ParseError(str(exc)) from exc
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
