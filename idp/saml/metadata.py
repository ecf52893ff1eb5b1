"""IdP metadata (SAML Metadata 2.0): entityID, signing certificate, SSO endpoints, NameID formats."""

from __future__ import annotations

from lxml import etree

from idp.saml.names import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, DS, MD, NAMEID_FORMATS, SAMLP
from idp.text import xml_safe

CONTENT_TYPE = "application/samlmetadata+xml"


def idp_metadata(
    entity_id: str, certificate_base64: str, sso_url: str, slo_url: str, *, want_requests_signed: bool = False
) -> bytes:
    # An issuer stored before the text rules must still give a well-formed document.
    root = etree.Element(f"{{{MD}}}EntityDescriptor", {"entityID": xml_safe(entity_id)}, nsmap={"md": MD, "ds": DS})
    idp = etree.SubElement(
        root,
        f"{{{MD}}}IDPSSODescriptor",
        {"WantAuthnRequestsSigned": "true" if want_requests_signed else "false", "protocolSupportEnumeration": SAMLP},
    )
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
