"""Reading a JSON body safely: bounded in size and in nesting before the parser sees it.

Python's json module recurses once per level, so a body of a few thousand `[` raises
RecursionError; the depth is measured first, outside strings, and refused past MAX_DEPTH.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from idp.errors import IdpError, PayloadTooLarge

# Metadata import sends up to 256 KiB of XML inside JSON, which escaping can grow.
MAX_BYTES = 384 * 1024
MAX_DEPTH = 32

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


def _depth(raw: bytes) -> int:
    deepest = depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def parse_json(
    raw: bytes,
    refusal: type[IdpError],
    *,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """The parsed body; `refusal` (naming the field "body") for a body that is too deep or not JSON."""
    if len(raw) > MAX_BYTES:
        raise PayloadTooLarge(f"the request body must be at most {MAX_BYTES} bytes", field="body")
    if _depth(raw) > MAX_DEPTH:
        raise refusal(f"the request body must not nest more than {MAX_DEPTH} levels deep", field="body")
    try:
        return json.loads(raw, object_pairs_hook=object_pairs_hook)
    except (ValueError, RecursionError):
        raise refusal("the request body is not valid JSON", field="body") from None
