"""IdP metadata (SAML Metadata 2.0): entityID, signing certificate, SSO endpoints, NameID formats, and
the signature algorithms it accepts (the SAML V2.0 Metadata Profile for Algorithm Support)."""

from __future__ import annotations

from lxml import etree

from idp.saml import algorithms
from idp.saml.names import ALG, BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, DS, MD, NAMEID_FORMATS, SAMLP
from idp.text import xml_safe

CONTENT_TYPE = "application/samlmetadata+xml"


def idp_metadata(
    entity_id: str,
    certificate_base64: str,
    sso_url: str,
    slo_url: str,
    *,
    want_requests_signed: bool = False,
    accepted: algorithms.Accepted | None = None,
) -> bytes:
    """`accepted`: the algorithms an SP may sign its messages with; by default those of an app that
    does not allow SHA-1. The ones we sign with (RSA-SHA256, SHA-256) are among them."""
    accepted = accepted or algorithms.accepted(allow_sha1=False)
    # An issuer stored before the text rules must still give a well-formed document.
    root = etree.Element(f"{{{MD}}}EntityDescriptor", {"entityID": xml_safe(entity_id)}, nsmap={"md": MD, "ds": DS})
    idp = etree.SubElement(
        root,
        f"{{{MD}}}IDPSSODescriptor",
        {"WantAuthnRequestsSigned": "true" if want_requests_signed else "false", "protocolSupportEnumeration": SAMLP},
    )
    _algorithm_support(idp, accepted)
    key = etree.SubElement(idp, f"{{{MD}}}KeyDescriptor", {"use": "signing"})
    x509_data = etree.SubElement(etree.SubElement(key, f"{{{DS}}}KeyInfo"), f"{{{DS}}}X509Data")
    etree.SubElement(x509_data, f"{{{DS}}}X509Certificate").text = certificate_base64
    for binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
        etree.SubElement(idp, f"{{{MD}}}SingleLogoutService", {"Binding": binding, "Location": slo_url})
    for name_id_format in NAMEID_FORMATS:
        etree.SubElement(idp, f"{{{MD}}}NameIDFormat").text = name_id_format
    for binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
        etree.SubElement(idp, f"{{{MD}}}SingleSignOnService", {"Binding": binding, "Location": sso_url})
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _algorithm_support(role: etree._Element, accepted: algorithms.Accepted) -> None:
    """The role's md:Extensions, which the schema puts before its KeyDescriptors: an alg:DigestMethod
    and an alg:SigningMethod per accepted algorithm, strongest first, so an SP configured from the
    metadata can pick one we take."""
    extensions = etree.SubElement(role, f"{{{MD}}}Extensions", nsmap={"alg": ALG})
    for digest in accepted.digest_methods:
        etree.SubElement(extensions, f"{{{ALG}}}DigestMethod", {"Algorithm": digest.uri})
    for signing in accepted.signing_methods:
        etree.SubElement(extensions, f"{{{ALG}}}SigningMethod", {"Algorithm": signing.uri})
