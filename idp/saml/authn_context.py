"""Authentication context (SAML Core 3.3.2.2.1): the classes this IdP knows, their order of strength,
and which class, if any, answers a RequestedAuthnContext for a sign-in of a given strength.

Pure: it reads the request's element and compares; the flows decide what to do with the answer
(assert it, ask for the TOTP step first, or refuse with NoAuthnContext).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from lxml import etree

from idp.saml.names import AC_PASSWORD, AC_PASSWORD_PROTECTED_TRANSPORT, AC_REFEDS_MFA, SAML, SAMLP


class Strength(IntEnum):
    """How strongly a person was authenticated; each class is asserted only by a sign-in at least this strong."""

    PASSWORD = 1
    PASSWORD_PROTECTED_TRANSPORT = 2
    MFA = 3


# The classes we know, weakest first. Our password sign-in is over TLS (PasswordProtectedTransport);
# with the TOTP step it is REFEDS MFA. A stronger sign-in includes every weaker class.
KNOWN_CLASSES: dict[str, Strength] = {
    AC_PASSWORD: Strength.PASSWORD,
    AC_PASSWORD_PROTECTED_TRANSPORT: Strength.PASSWORD_PROTECTED_TRANSPORT,
    AC_REFEDS_MFA: Strength.MFA,
}


class Comparison(StrEnum):
    EXACT = "exact"
    MINIMUM = "minimum"
    MAXIMUM = "maximum"
    BETTER = "better"


@dataclass(frozen=True)
class RequestedContext:
    """What an AuthnRequest's RequestedAuthnContext asks: class references, most preferred first."""

    class_refs: tuple[str, ...]
    comparison: Comparison = Comparison.EXACT
    declaration_refs: bool = False  # AuthnContextDeclRef: not supported, never satisfied


class UnreadableContext(ValueError):
    """A RequestedAuthnContext with a Comparison the schema does not allow."""


def read(request_root: etree._Element) -> RequestedContext | None:
    """The AuthnRequest's RequestedAuthnContext, or None when it has none."""
    element = request_root.find(f"{{{SAMLP}}}RequestedAuthnContext")
    if element is None:
        return None
    try:
        comparison = Comparison(element.get("Comparison") or Comparison.EXACT)
    except ValueError:
        raise UnreadableContext("RequestedAuthnContext has an unknown Comparison") from None
    classes = tuple((ref.text or "").strip() for ref in element.findall(f"{{{SAML}}}AuthnContextClassRef"))
    declarations = element.findall(f"{{{SAML}}}AuthnContextDeclRef")
    if not classes and not declarations:
        return None  # schema-invalid, but what python3-saml sends when configured with an empty list: no request
    return RequestedContext(classes, comparison, declaration_refs=bool(declarations))


def default_class(strength: Strength) -> str:
    """What a sign-in of this strength asserts when the SP asked for nothing in particular."""
    return AC_REFEDS_MFA if strength >= Strength.MFA else AC_PASSWORD_PROTECTED_TRANSPORT


def _acceptable(requested: RequestedContext, candidate: Strength) -> bool:
    """Whether a class of strength `candidate` meets the comparison against one of the known classes asked for."""
    asked = [KNOWN_CLASSES[ref] for ref in requested.class_refs if ref in KNOWN_CLASSES]
    match requested.comparison:
        case Comparison.MINIMUM:
            return any(candidate >= strength for strength in asked)
        case Comparison.BETTER:
            return any(candidate > strength for strength in asked)
        case Comparison.MAXIMUM:
            return any(candidate <= strength for strength in asked)
        case _:
            return False  # exact is matched by name, in `answer`


def answer(requested: RequestedContext | None, signed_in: Strength) -> str | None:
    """The class to assert for a sign-in of strength `signed_in`, or None when it does not meet the request.

    - no RequestedAuthnContext: the class of the sign-in itself;
    - exact: the first class asked for (the SP's order of preference) that the sign-in includes;
    - minimum, better: the strongest known class the sign-in includes that meets the comparison
      (so an MFA sign-in asked for at least PasswordProtectedTransport asserts MFA);
    - maximum: the strongest class the sign-in includes that does not exceed a class asked for.

    Unknown classes are never met, and compare with nothing; AuthnContextDeclRef is never met.
    """
    if requested is None:
        return default_class(signed_in)
    if requested.declaration_refs:
        return None
    if requested.comparison is Comparison.EXACT:
        return next(
            (ref for ref in requested.class_refs if ref in KNOWN_CLASSES and KNOWN_CLASSES[ref] <= signed_in), None
        )
    for ref, strength in sorted(KNOWN_CLASSES.items(), key=lambda item: item[1], reverse=True):
        if strength <= signed_in and _acceptable(requested, strength):
            return ref
    return None
