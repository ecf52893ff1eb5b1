"""Independent SAML checkers: the xmlsec1 command, python3-saml (OneLogin) as a strict SP, and the
OASIS schemas pysaml2 ships, read by xmlschema.

Our own code never judges its own output in these checks.
"""

from __future__ import annotations

import base64
import functools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

import xmlschema
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

_ID_ATTRS = {
    "Assertion": "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
    "Response": "urn:oasis:names:tc:SAML:2.0:protocol:Response",
    "EntityDescriptor": "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
    "LogoutRequest": "urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest",
    "LogoutResponse": "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
}
# The Shibboleth metadata extension (shibmd:Scope) as the Shibboleth SP's Debian package installs it.
SHIBMD_SCHEMA = Path("/usr/share/xml/shibboleth/shibboleth-metadata-1.0.xsd")


def xmlsec1_verifies(xml: bytes, certificate_pem: bytes, signed_element: str) -> bool:
    """Whether `xmlsec1 --verify` accepts the signature that is a child of `signed_element`."""
    binary = shutil.which("xmlsec1")
    if binary is None:
        import pytest

        pytest.skip("xmlsec1 is not installed (Debian package xmlsec1)")
    with tempfile.TemporaryDirectory() as folder:
        document, cert = Path(folder, "response.xml"), Path(folder, "idp.crt")
        document.write_bytes(xml)
        cert.write_bytes(certificate_pem)
        result = subprocess.run(
            [
                binary,
                "--verify",
                "--pubkey-cert-pem",
                str(cert),
                "--id-attr:ID",
                _ID_ATTRS[signed_element],
                "--node-xpath",
                f"//*[local-name()='Signature' and parent::*[local-name()='{signed_element}']]",
                str(document),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    # xmlsec1 says "OK" on a line of its own and exits 0 only for a good signature.
    return result.returncode == 0 and "OK" in (result.stdout + result.stderr).splitlines()


@dataclass(frozen=True)
class AcceptedLogin:
    name_id: str
    name_id_format: str
    attributes: dict[str, list[str]]
    session_index: str | None


def python3_saml_accepts(
    saml_response_b64: str,
    *,
    idp_entity_id: str,
    idp_certificate_b64: str,
    sp_entity_id: str,
    acs_url: str,
    want_assertions_signed: bool,
    want_messages_signed: bool,
    want_name_id: bool = True,
    idp_signing_certificates: list[str] | None = None,
) -> AcceptedLogin:
    """Validate as python3-saml does in strict mode; raises its validation error when it refuses.
    `idp_signing_certificates`, when given, are every signing certificate the SP trusts (python3-saml's
    `x509certMulti`, as it reads it from metadata with several signing KeyDescriptors)."""
    certificates = {"x509certMulti": {"signing": idp_signing_certificates}} if idp_signing_certificates else {}
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": sp_entity_id,
                "assertionConsumerService": {"url": acs_url, "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST},
            },
            "idp": {
                "entityId": idp_entity_id,
                "singleSignOnService": {
                    "url": "https://idp.invalid/sso",
                    "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT,
                },
                "x509cert": idp_certificate_b64,
                **certificates,
            },
            "security": {
                "wantAssertionsSigned": want_assertions_signed,
                "wantMessagesSigned": want_messages_signed,
                "wantNameId": want_name_id,
                "rejectDeprecatedAlgorithm": True,
            },
        },
        sp_validation_only=True,
    )
    acs = urlsplit(acs_url)
    request_data = {
        "https": "on" if acs.scheme == "https" else "off",
        "http_host": acs.netloc,
        "script_name": acs.path,
        "get_data": {},
        "post_data": {"SAMLResponse": saml_response_b64},
    }
    response = OneLogin_Saml2_Response(settings, saml_response_b64)
    response.is_valid(request_data, raise_exceptions=True)
    return AcceptedLogin(
        name_id=response.get_nameid(),
        name_id_format=response.get_nameid_format(),
        attributes=response.get_attributes(),
        session_index=response.get_session_index(),
    )


def decode(saml_response_b64: str) -> bytes:
    return base64.b64decode(saml_response_b64)


@functools.cache
def _metadata_schema() -> xmlschema.XMLSchema:
    """SAML 2.0 metadata with the schemas it imports and the Algorithm Support and UI Info extensions
    (and shibmd where the Shibboleth SP is installed), so that alg:*, mdui:* and shibmd:* elements in
    md:Extensions are checked strictly, not skipped as unknown."""
    import saml2.data.schemas

    folder = files(saml2.data.schemas)
    locations = {
        "http://www.w3.org/XML/1998/namespace": "xml.xsd",
        "http://www.w3.org/2000/09/xmldsig#": "xmldsig-core-schema.xsd",
        "http://www.w3.org/2001/04/xmlenc#": "xenc-schema.xsd",
        "urn:oasis:names:tc:SAML:2.0:assertion": "saml-schema-assertion-2.0.xsd",
        "urn:oasis:names:tc:SAML:metadata:algsupport": "sstc-saml-metadata-algsupport-v1.0.xsd",
        "urn:oasis:names:tc:SAML:metadata:ui": "sstc-saml-metadata-ui-v1.0.xsd",
    }
    paths = {namespace: str(folder / name) for namespace, name in locations.items()}
    if SHIBMD_SCHEMA.exists():
        paths["urn:mace:shibboleth:metadata:1.0"] = str(SHIBMD_SCHEMA)
    return xmlschema.XMLSchema(
        str(folder / "saml-schema-metadata-2.0.xsd"),
        locations=paths,
        allow="local",  # files on this machine only, never the network
    )


def metadata_schema_errors(xml: bytes) -> list[str]:
    """What the SAML metadata schema finds wrong with `xml` (nothing: an empty list)."""
    return [str(error) for error in _metadata_schema().iter_errors(xml.decode())]


@dataclass(frozen=True)
class Pysaml2Login:
    name_id: str | None
    attributes: dict[str, list[str]]  # by Name, as pysaml2 reads them without attribute maps
    name_formats: dict[str, str]
    friendly_names: dict[str, str | None]


def pysaml2_accepts(
    saml_response_b64: str, *, idp_metadata: bytes, sp_entity_id: str, acs_url: str, workdir: Path
) -> Pysaml2Login:
    """Validate as pysaml2 (7.5) does for an SP that takes unsolicited responses: the signature (by
    xmlsec1) against the IdP metadata's certificate, Destination, Audience and times; raises when it refuses."""
    from saml2 import BINDING_HTTP_POST
    from saml2.client import Saml2Client
    from saml2.config import SPConfig

    binary = shutil.which("xmlsec1")
    if binary is None:
        import pytest

        pytest.skip("xmlsec1 is not installed (Debian package xmlsec1)")
    metadata_file = workdir / "idp-metadata.xml"
    metadata_file.write_bytes(idp_metadata)
    config = SPConfig()
    config.load(
        {
            "entityid": sp_entity_id,
            "xmlsec_binary": binary,
            "metadata": {"local": [str(metadata_file)]},
            "allow_unknown_attributes": True,
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]},
                    "allow_unsolicited": True,
                    "want_assertions_or_response_signed": True,
                    "want_response_signed": False,
                    "want_assertions_signed": False,
                }
            },
        }
    )
    response = Saml2Client(config).parse_authn_request_response(saml_response_b64, BINDING_HTTP_POST)
    if response is None:
        raise AssertionError("pysaml2 did not accept the response")
    attributes: dict[str, list[str]] = {}
    name_formats: dict[str, str] = {}
    friendly_names: dict[str, str | None] = {}
    for statement in response.assertion.attribute_statement:
        for attribute in statement.attribute:
            attributes[attribute.name] = [value.text for value in attribute.attribute_value]
            name_formats[attribute.name] = attribute.name_format
            friendly_names[attribute.name] = attribute.friendly_name
    name_id = response.assertion.subject.name_id
    return Pysaml2Login(name_id.text if name_id is not None else None, attributes, name_formats, friendly_names)


@functools.cache
def _protocol_schema() -> xmlschema.XMLSchema:
    """SAML 2.0 protocol messages (samlp:*) with the assertion, XML-DSig and XML-Enc schemas they import."""
    import saml2.data.schemas

    folder = files(saml2.data.schemas)
    locations = {
        "http://www.w3.org/XML/1998/namespace": "xml.xsd",
        "http://www.w3.org/2000/09/xmldsig#": "xmldsig-core-schema.xsd",
        "http://www.w3.org/2001/04/xmlenc#": "xenc-schema.xsd",
        "urn:oasis:names:tc:SAML:2.0:assertion": "saml-schema-assertion-2.0.xsd",
    }
    return xmlschema.XMLSchema(
        str(folder / "saml-schema-protocol-2.0.xsd"),
        locations={namespace: str(folder / name) for namespace, name in locations.items()},
        allow="sandbox",
    )


def protocol_schema_errors(xml: bytes) -> list[str]:
    """What the SAML 2.0 protocol schema (with the assertion schema) finds wrong with a message
    (a Response, a LogoutRequest, ...): nothing is []."""
    return [str(error) for error in _protocol_schema().iter_errors(xml.decode())]
