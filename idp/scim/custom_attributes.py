"""Custom user attributes in our SCIM extension: a flat object of strings or lists of strings, as a list
of `{"name", "value"}` entries (a name given once holds a string, given several times a list)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from idp.errors import ValidationError
from idp.scim.schema import CustomAttribute
from idp.text import clean_text

# The keys custom attributes may have (as mappings name them: attributes.KEY).
ATTRIBUTE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
# The limits the API applies to custom attributes too.
MAX_ATTRIBUTE_KEYS = 50
MAX_ATTRIBUTE_VALUES = 50  # values of one list-valued attribute
MAX_ATTRIBUTES_BYTES = 16 * 1024  # all of them, as JSON


def attribute_entries(attributes: dict[str, str | list[str]]) -> list[CustomAttribute]:
    entries: list[CustomAttribute] = []
    for name, value in sorted(attributes.items()):
        values = value if isinstance(value, list) else [value]
        entries += [CustomAttribute(name=name, value=item) for item in values]
    return entries


def attributes_of(entries: Iterable[CustomAttribute] | None) -> dict[str, str | list[str]]:
    """Entries back to custom attributes: a name given once holds a string, given more often a list."""
    found: dict[str, list[str]] = {}
    for entry in entries or []:
        name = entry.name or ""
        if not ATTRIBUTE_KEY.fullmatch(name):
            raise ValidationError(
                "attributes.name must start with a letter or _ and hold only letters, digits, _ and -, "
                "at most 64 characters",
                field="attributes",
            )
        found.setdefault(name, []).append(
            clean_text(f"attributes.{name}", entry.value or "", max_length=1024, required=False)
        )
    if len(found) > MAX_ATTRIBUTE_KEYS:
        raise ValidationError(f"attributes may hold at most {MAX_ATTRIBUTE_KEYS} names", field="attributes")
    if any(len(values) > MAX_ATTRIBUTE_VALUES for values in found.values()):
        raise ValidationError(f"an attribute may hold at most {MAX_ATTRIBUTE_VALUES} values", field="attributes")
    if len(json.dumps(found)) > MAX_ATTRIBUTES_BYTES:
        raise ValidationError(f"attributes must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON", field="attributes")
    return {name: values[0] if len(values) == 1 else values for name, values in found.items()}
