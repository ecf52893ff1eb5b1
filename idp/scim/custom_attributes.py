"""Custom user attributes in our SCIM extension: a flat object of strings or lists of strings, as a list
of `{"name", "value"}` entries (a name given once holds a string, given several times a list)."""

from __future__ import annotations

from collections.abc import Iterable

from idp.accounts.custom_attributes import clean_attributes
from idp.scim.schema import CustomAttribute


def attribute_entries(attributes: dict[str, str | list[str]]) -> list[CustomAttribute]:
    entries: list[CustomAttribute] = []
    for name, value in sorted(attributes.items()):
        values = value if isinstance(value, list) else [value]
        entries += [CustomAttribute(name=name, value=item) for item in values]
    return entries


def attributes_of(entries: Iterable[CustomAttribute] | None) -> dict[str, str | list[str]]:
    """Entries back to custom attributes: a name given once holds a string, given more often a list;
    held to the rules every custom attribute is (`idp.accounts.custom_attributes`)."""
    found: dict[str, list[str]] = {}
    for entry in entries or []:
        found.setdefault(entry.name or "", []).append(entry.value or "")
    return clean_attributes({name: values[0] if len(values) == 1 else values for name, values in found.items()})
