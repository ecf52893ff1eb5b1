"""IdP metadata (SAML Metadata 2.0): entityID, signing certificates, SSO endpoints, NameID formats, the
signature algorithms (the SAML V2.0 Metadata Profile for Algorithm Support), who runs the IdP
(Organization, a technical ContactPerson, mdui:UIInfo), its scopes (shibmd:Scope), how long the
document holds (validUntil, cacheDuration), and an enveloped signature over all of it."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Sequence

from lxml import etree

from idp.models import About
from idp.saml import algorithms
from idp.saml.names import ALG, BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, DS, MD, NAMEID_FORMATS, SAMLP
from idp.saml.xmlsig import Signer
from idp.text import xml_safe

CONTENT_TYPE = "application/samlmetadata+xml"
MDUI = "urn:oasis:names:tc:SAML:metadata:ui"
SHIBMD = "urn:mace:shibboleth:metadata:1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def idp_metadata(
    entity_id: str,
    certificates: Sequence[str],
    sso_url: str,
    slo_url: str,
    *,
    about: About,
    now: float,
    signer: Signer | None = None,
    want_requests_signed: bool = False,
    accepted: algorithms.Accepted | None = None,
) -> bytes:
    """`certificates`: base64 DER, the one that signs first, then any staged or retiring one; each is a
    signing KeyDescriptor. `signer`: signs the document (none: unsigned). `accepted`: the algorithms an
    SP may sign its messages with; by default those of an app that does not allow SHA-1. The ones we
    sign with (RSA-SHA256, SHA-256) are among them."""
    accepted = accepted or algorithms.accepted(allow_sha1=False)
    valid_until = datetime.datetime.fromtimestamp(now + about.valid_for, datetime.UTC)
    # An issuer stored before the text rules must still give a well-formed document.
    root = etree.Element(
        f"{{{MD}}}EntityDescriptor",
        {
            "entityID": xml_safe(entity_id),
            "ID": "_" + secrets.token_hex(20),
            "validUntil": valid_until.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cacheDuration": f"PT{about.cache_duration}S",
        },
        nsmap={"md": MD, "ds": DS},
    )
    idp = etree.SubElement(
        root,
        f"{{{MD}}}IDPSSODescriptor",
        {
            "WantAuthnRequestsSigned": "true" if want_requests_signed else "false",
            "protocolSupportEnumeration": SAMLP,
            "errorURL": about.error_url,
        },
    )
    _role_extensions(idp, accepted, about)
    for certificate in certificates:
        key = etree.SubElement(idp, f"{{{MD}}}KeyDescriptor", {"use": "signing"})
        x509_data = etree.SubElement(etree.SubElement(key, f"{{{DS}}}KeyInfo"), f"{{{DS}}}X509Data")
        etree.SubElement(x509_data, f"{{{DS}}}X509Certificate").text = certificate
    for binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
        etree.SubElement(idp, f"{{{MD}}}SingleLogoutService", {"Binding": binding, "Location": slo_url})
    for name_id_format in NAMEID_FORMATS:
        etree.SubElement(idp, f"{{{MD}}}NameIDFormat").text = name_id_format
    for binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
        etree.SubElement(idp, f"{{{MD}}}SingleSignOnService", {"Binding": binding, "Location": sso_url})
    _organization_and_contact(root, about)
    # Indented before signing: whitespace added after it would break the signature.
    etree.indent(root)
    if signer is not None:
        signer.sign(root)  # the Signature goes first, as Metadata 2.3.2 puts it before Extensions
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _role_extensions(role: etree._Element, accepted: algorithms.Accepted, about: About) -> None:
    """The role's md:Extensions, which the schema puts before its KeyDescriptors: the scopes of the
    attributes the IdP asserts, its name and logo for SPs' pages, then an alg:DigestMethod and an
    alg:SigningMethod per accepted algorithm, strongest first, so an SP configured from the metadata
    can pick one we take."""
    extensions = etree.SubElement(role, f"{{{MD}}}Extensions", nsmap={"alg": ALG, "mdui": MDUI, "shibmd": SHIBMD})
    for scope in about.scopes:
        etree.SubElement(extensions, f"{{{SHIBMD}}}Scope", {"regexp": "false"}).text = xml_safe(scope)
    ui = etree.SubElement(extensions, f"{{{MDUI}}}UIInfo")
    etree.SubElement(ui, f"{{{MDUI}}}DisplayName", {XML_LANG: about.language}).text = xml_safe(about.display_name)
    if about.logo_url:
        size = {"height": str(about.logo_height), "width": str(about.logo_width)}
        etree.SubElement(ui, f"{{{MDUI}}}Logo", size).text = about.logo_url
    for digest in accepted.digest_methods:
        etree.SubElement(extensions, f"{{{ALG}}}DigestMethod", {"Algorithm": digest.uri})
    for signing in accepted.signing_methods:
        etree.SubElement(extensions, f"{{{ALG}}}SigningMethod", {"Algorithm": signing.uri})


def _organization_and_contact(root: etree._Element, about: About) -> None:
    organization = etree.SubElement(root, f"{{{MD}}}Organization")
    for tag, text in (
        ("OrganizationName", about.organization_name),
        ("OrganizationDisplayName", about.organization_display_name),
        ("OrganizationURL", about.organization_url),
    ):
        etree.SubElement(organization, f"{{{MD}}}{tag}", {XML_LANG: about.language}).text = xml_safe(text)
    contact = etree.SubElement(root, f"{{{MD}}}ContactPerson", {"contactType": "technical"})
    if about.contact_name:
        etree.SubElement(contact, f"{{{MD}}}GivenName").text = xml_safe(about.contact_name)
    etree.SubElement(contact, f"{{{MD}}}EmailAddress").text = f"mailto:{about.contact_email}"
