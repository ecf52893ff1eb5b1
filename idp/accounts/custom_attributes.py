"""A user's custom attributes (mlsid, nar_number, license_number, office_mlsid, ...): the rules for
what may be stored, shared by the `idp` command and the API; every refusal names its key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from idp.errors import ValidationError
from idp.models import CUSTOM_ATTRIBUTE_KEY
from idp.text import clean_text

FIELD = "attributes"
MAX_KEYS = 50
MAX_VALUES = 50
MAX_VALUE_LENGTH = 1024
MAX_BYTES = 16 * 1024

AttributeValue = str | list[str]


def clean_attributes(value: Any) -> dict[str, AttributeValue]:
    """A flat JSON object of strings or lists of strings, keys like `mlsid` (letters, digits, _ and -)."""
    if not isinstance(value, Mapping):
        raise ValidationError(f"{FIELD} must be an object of strings or lists of strings", field=FIELD)
    if len(value) > MAX_KEYS:
        raise ValidationError(f"{FIELD} may hold at most {MAX_KEYS} keys", field=FIELD)
    clean = {_key(key): _value(key, item) for key, item in value.items()}
    if len(json.dumps(clean)) > MAX_BYTES:
        raise ValidationError(f"{FIELD} must be at most {MAX_BYTES} bytes of JSON", field=FIELD)
    return clean


def _key(key: Any) -> str:
    if not isinstance(key, str) or not CUSTOM_ATTRIBUTE_KEY.fullmatch(key):
        raise ValidationError(
            f"{FIELD}: a key must start with a letter or _ and hold only letters, digits, _ and -, "
            "at most 64 characters",
            field=FIELD,
        )
    return key


def _value(key: str, value: Any) -> AttributeValue:
    field = f"{FIELD}.{key}"
    if isinstance(value, str):
        return clean_text(field, value, max_length=MAX_VALUE_LENGTH, required=False)
    if isinstance(value, list) and len(value) <= MAX_VALUES and all(isinstance(item, str) for item in value):
        return [clean_text(field, item, max_length=MAX_VALUE_LENGTH, required=False) for item in value]
    raise ValidationError(f"{field} must be a string or a list of at most {MAX_VALUES} strings", field=field)


def from_assignments(assignments: list[str]) -> dict[str, AttributeValue]:
    """`KEY=VALUE` pairs as given at the command line: a key given twice or more holds a list."""
    found: dict[str, list[str]] = {}
    for assignment in assignments:
        key, equals, value = assignment.partition("=")
        if not equals:
            raise ValidationError(f"--attribute {assignment!r} must be KEY=VALUE", field=FIELD)
        found.setdefault(_key(key.strip()), []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in found.items()}


def updated(current: Mapping[str, AttributeValue], changes: Mapping[str, AttributeValue]) -> dict[str, AttributeValue]:
    """The attributes with `changes` applied: each key given replaces its value; an empty value removes it."""
    merged = {**current, **changes}
    return clean_attributes({key: value for key, value in merged.items() if value not in ("", [])})
