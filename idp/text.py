"""The rules for text the service stores, and for text it writes into XML and pages.

Stored text is NFC-normalised and holds no control character (unless a field says so) and no
lone surrogate: such text breaks the XML it would be signed into, the UTF-8 of a page, or a
log line.  Values stored before these rules still render: `xml_safe` and the pages' UTF-8
encoding replace what cannot be written.
"""

from __future__ import annotations

import re
import unicodedata

from idp.errors import ValidationError

# C0 and C1 controls and DEL; tab, newline and carriage return are refused too unless allowed.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# What XML 1.0 cannot carry at all (section 2.2), plus lone surrogates.
_NOT_XML = re.compile(r"[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean_text(field: str, value: object, *, max_length: int, multiline: bool = False, required: bool = True) -> str:
    """`value` as stored text: a string, stripped, NFC, within `max_length`, free of controls and lone surrogates."""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", field=field)
    if _SURROGATE.search(value):
        raise ValidationError(f"{field} must be valid Unicode text (it holds a lone surrogate)", field=field)
    if (_CONTROL_BUT_LINES if multiline else _CONTROL).search(value):
        raise ValidationError(f"{field} must not contain control characters", field=field)
    text = unicodedata.normalize("NFC", value).strip()
    if required and not text:
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    if len(text) > max_length:
        raise ValidationError(f"{field} must be at most {max_length} characters", field=field)
    return text


def xml_safe(text: str) -> str:
    """`text` with whatever XML cannot carry replaced by U+FFFD, so a stored value never breaks a message."""
    if text.isascii() and text.isprintable():
        return text  # printable ASCII (U+0020 to U+007E) is all XML can carry: no regex to run
    return _NOT_XML.sub("\ufffd", text)
