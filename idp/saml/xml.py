"""Parsing XML that arrives from outside: no DTD, no entities, no network, bounded size."""

from __future__ import annotations

from typing import Any

from lxml import etree

from idp.errors import IdpError, ValidationError

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


def parse_untrusted(
    data: bytes,
    *,
    what: str = "the document",
    field: str | None = None,
    refusal: type[IdpError] = ValidationError,
) -> etree._Element:
    """The root element; `refusal` (ValidationError unless told) naming the problem for anything malformed or hostile.

    Protocol messages pass SamlRequestRefused, so that a malformed message is a SAML refusal.

    A DOCTYPE is refused outright: SAML never needs one, and it is the door to entity
    expansion ("billion laughs") and external entities (XXE).
    """
    if len(data) > MAX_BYTES:
        raise refusal(f"{what} is larger than {MAX_BYTES} bytes", field=field)
    if b"<!DOCTYPE" in data.upper():
        # Refused before parsing when written in ASCII-compatible bytes; one in another encoding (UTF-16)
        # reaches the parser, which resolves no entity and loads no DTD, and is refused just below.
        raise refusal(f"{what} must not contain a DOCTYPE", field=field)
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        raise refusal(f"{what} is not well-formed XML: {error.msg}", field=field) from None
    # lxml-stubs leave DocInfo.doctype out, though lxml has it; hence Any.
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype:
        raise refusal(f"{what} must not contain a DOCTYPE", field=field)
    return root
