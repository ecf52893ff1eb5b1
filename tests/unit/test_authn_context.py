"""The authentication-context rules (SAML Core 3.3.2.2.1), on RequestedAuthnContext elements written
by python3-saml and pysaml2: which class answers each comparison for each strength of sign-in."""

from __future__ import annotations

import pytest
from lxml import etree
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from saml2.saml import AuthnContextClassRef, AuthnContextDeclRef
from saml2.samlp import AuthnRequest as Pysaml2Request
from saml2.samlp import RequestedAuthnContext

from idp.saml import authn_context
from idp.saml.authn_context import Comparison, RequestedContext, Strength, answer

PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
MFA = "https://refeds.org/profile/mfa"
KERBEROS = "urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos"
SIGNED_IN_WITH_PASSWORD = Strength.PASSWORD_PROTECTED_TRANSPORT
SIGNED_IN_WITH_MFA = Strength.MFA


def python3_saml_request(classes: list[str], comparison: str) -> etree._Element:
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": "https://sp.example.com/metadata",
                "assertionConsumerService": {"url": "https://sp.example.com/acs"},
            },
            "idp": {"entityId": "https://idp.example.com/metadata", "singleSignOnService": {"url": "https://idp/sso"}},
            "security": {"requestedAuthnContext": classes, "requestedAuthnContextComparison": comparison},
        },
        sp_validation_only=True,
    )
    return etree.fromstring(OneLogin_Saml2_Authn_Request(settings).get_xml().encode())


def pysaml2_request(context: RequestedAuthnContext) -> etree._Element:
    return etree.fromstring(str(Pysaml2Request(id="_r", version="2.0", requested_authn_context=context)).encode())


CASES = [
    # comparison, classes asked for (most preferred first), sign-in, class asserted (None: NoAuthnContext)
    ("exact", [MFA], SIGNED_IN_WITH_MFA, MFA),
    ("exact", [MFA], SIGNED_IN_WITH_PASSWORD, None),
    ("exact", [PPT], SIGNED_IN_WITH_PASSWORD, PPT),
    ("exact", [PPT], SIGNED_IN_WITH_MFA, PPT),  # MFA includes it
    ("exact", [PASSWORD], SIGNED_IN_WITH_PASSWORD, PASSWORD),
    ("exact", [MFA, PPT], SIGNED_IN_WITH_PASSWORD, PPT),
    ("exact", [MFA, PPT], SIGNED_IN_WITH_MFA, MFA),  # the SP's first choice
    ("exact", [PPT, MFA], SIGNED_IN_WITH_MFA, PPT),
    ("exact", [KERBEROS], SIGNED_IN_WITH_MFA, None),
    ("minimum", [PPT], SIGNED_IN_WITH_PASSWORD, PPT),
    ("minimum", [PPT], SIGNED_IN_WITH_MFA, MFA),
    ("minimum", [MFA], SIGNED_IN_WITH_PASSWORD, None),
    ("minimum", [MFA], SIGNED_IN_WITH_MFA, MFA),
    ("minimum", [KERBEROS], SIGNED_IN_WITH_MFA, None),
    ("minimum", [KERBEROS, PPT], SIGNED_IN_WITH_PASSWORD, PPT),
    ("better", [PPT], SIGNED_IN_WITH_PASSWORD, None),
    ("better", [PPT], SIGNED_IN_WITH_MFA, MFA),
    ("better", [PASSWORD], SIGNED_IN_WITH_PASSWORD, PPT),
    ("better", [MFA], SIGNED_IN_WITH_MFA, None),
    ("maximum", [PPT], SIGNED_IN_WITH_MFA, PPT),
    ("maximum", [MFA], SIGNED_IN_WITH_MFA, MFA),
    ("maximum", [MFA], SIGNED_IN_WITH_PASSWORD, PPT),
    ("maximum", [PASSWORD], SIGNED_IN_WITH_MFA, PASSWORD),
    ("maximum", [KERBEROS], SIGNED_IN_WITH_MFA, None),
]


@pytest.mark.parametrize(("comparison", "classes", "signed_in", "asserted"), CASES)
def test_each_comparison_answers_the_documented_class(comparison, classes, signed_in, asserted):
    requested = authn_context.read(python3_saml_request(classes, comparison))
    assert requested == RequestedContext(tuple(classes), Comparison(comparison))
    assert answer(requested, signed_in) == asserted


def test_without_a_requested_context_the_sign_in_asserts_its_own_class():
    assert authn_context.read(etree.fromstring(b"<AuthnRequest/>")) is None
    assert authn_context.read(python3_saml_request([], "exact")) is None, "an empty element asks for nothing"
    assert answer(None, SIGNED_IN_WITH_PASSWORD) == PPT
    assert answer(None, SIGNED_IN_WITH_MFA) == MFA


def test_comparison_defaults_to_exact_as_pysaml2_leaves_it_out():
    requested = authn_context.read(
        pysaml2_request(RequestedAuthnContext(authn_context_class_ref=[AuthnContextClassRef(text=PPT)]))
    )
    assert requested is not None and requested.comparison is Comparison.EXACT
    assert answer(requested, SIGNED_IN_WITH_MFA) == PPT


def test_a_declaration_reference_is_never_met():
    context = RequestedAuthnContext(authn_context_decl_ref=[AuthnContextDeclRef(text="https://sp.example/decl")])
    requested = authn_context.read(pysaml2_request(context))
    assert requested is not None and requested.declaration_refs
    assert answer(requested, SIGNED_IN_WITH_MFA) is None


def test_an_unknown_comparison_is_refused_as_malformed():
    root = python3_saml_request([PPT], "exact")
    root.find("{urn:oasis:names:tc:SAML:2.0:protocol}RequestedAuthnContext").set("Comparison", "loose")
    with pytest.raises(authn_context.UnreadableContext):
        authn_context.read(root)


def test_the_order_of_strength_is_password_then_transport_then_mfa():
    assert list(authn_context.KNOWN_CLASSES) == [PASSWORD, PPT, MFA]
    assert list(authn_context.KNOWN_CLASSES.values()) == sorted(authn_context.KNOWN_CLASSES.values())
