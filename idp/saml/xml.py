"""Parsing XML that arrives from outside: no DTD, no entities, no network, bounded size."""

from __future__ import annotations

from lxml import etree

from idp.errors import ValidationError

MAX_BYTES = 256 * 1024

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=False,
    remove_pis=True,
)


def parse_untrusted(data: bytes, *, what: str = "the document", field: str | None = None) -> etree._Element:
    """The root element; ValidationError naming the problem for anything malformed or hostile.

    A DOCTYPE is refused outright: SAML never needs one, and it is the door to entity
    expansion ("billion laughs") and external entities (XXE).
    """
    if len(data) > MAX_BYTES:
        raise ValidationError(f"{what} is larger than {MAX_BYTES} bytes", field=field)
    if b"<!DOCTYPE" in data.upper():
        # Refused before parsing, so hostile DTDs never reach the parser at all.
        raise ValidationError(f"{what} must not contain a DOCTYPE", field=field)
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        raise ValidationError(f"{what} is not well-formed XML: {error.msg}", field=field) from None
    if root.getroottree().docinfo.doctype:
        raise ValidationError(f"{what} must not contain a DOCTYPE", field=field)
    return root
