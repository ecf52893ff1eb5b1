"""Response building and signing, judged by xmlsec1 and python3-saml rather than by our own code."""

from __future__ import annotations

import base64
import copy
import datetime

import pytest
import xmlsec
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_ValidationError

from idp.keyring import KeyRing
from idp.saml.algorithms import signature_algorithm
from idp.saml.attributes import Subject
from idp.saml.names import AC_PASSWORD_PROTECTED_TRANSPORT, ATTRNAME_BASIC, ATTRNAME_URI, NAMEID_EMAIL, SAML, SAMLP
from idp.saml.outbound import Sign, protect, serialize
from idp.saml.response import AssertionSpec, build_response
from idp.saml.xmlsig import Signer
from tests.independent import python3_saml_accepts, xmlsec1_verifies
from tests.signing import signed_response, single_values

IDP = "https://idp.example.com/metadata"
SP = "https://sp.example.com/metadata"
ACS = "https://sp.example.com/acs"
NS = {"samlp": SAMLP, "saml": SAML}


@pytest.fixture(scope="module")
def ring(keys_dir) -> KeyRing:
    return KeyRing.load(keys_dir)


@pytest.fixture(scope="module")
def signer(ring) -> Signer:
    return Signer(ring.signing_key_pem, ring.certificate_pem)


def spec(**overrides) -> AssertionSpec:
    values = {
        "issuer": IDP,
        "destination": ACS,
        "recipient": ACS,
        "audience": SP,
        "subject": Subject(
            "ada@example.com",
            NAMEID_EMAIL,
            single_values({"firstName": "Ada", "urn:oid:0.9.2342.19200300.100.1.3": "ada@x.org"}),
        ),
        "authn_context": AC_PASSWORD_PROTECTED_TRANSPORT,
        "session_index": "_session1",
        "issued_at": datetime.datetime.now(datetime.UTC),
        "lifetime": 300,
    }
    return AssertionSpec(**{**values, **overrides})


def accept(xml: bytes, ring: KeyRing, signed: str):
    return python3_saml_accepts(
        base64.b64encode(xml).decode(),
        idp_entity_id=IDP,
        idp_certificate_b64=ring.certificate_base64,
        sp_entity_id=SP,
        acs_url=ACS,
        want_assertions_signed=signed in ("assertion", "both"),
        want_messages_signed=signed in ("response", "both"),
    )


@pytest.mark.parametrize("signed", ["assertion", "response", "both"])
def test_each_signing_mode_is_accepted_by_xmlsec1_and_python3_saml(signed, ring, signer):
    xml = signed_response(spec(), signed, signer)
    assert xmlsec1_verifies(xml, ring.certificate_pem, "Assertion") is (signed in ("assertion", "both"))
    assert xmlsec1_verifies(xml, ring.certificate_pem, "Response") is (signed in ("response", "both"))
    login = accept(xml, ring, signed)
    assert login.name_id == "ada@example.com"
    assert login.name_id_format == NAMEID_EMAIL
    assert login.attributes == {"firstName": ["Ada"], "urn:oid:0.9.2342.19200300.100.1.3": ["ada@x.org"]}
    assert login.session_index == "_session1"


def test_no_signing_mode_means_both(ring, signer):
    xml = signed_response(spec(), None, signer)
    assert xmlsec1_verifies(xml, ring.certificate_pem, "Assertion")
    assert xmlsec1_verifies(xml, ring.certificate_pem, "Response")


@pytest.mark.parametrize("signed", ["assertion", "response", "both"])
def test_a_name_id_changed_after_signing_is_refused(signed, ring, signer):
    xml = signed_response(spec(), signed, signer).replace(b"ada@example.com<", b"eve@example.com<")
    assert b"eve@example.com" in xml
    assert not xmlsec1_verifies(xml, ring.certificate_pem, "Assertion" if signed != "response" else "Response")
    with pytest.raises(OneLogin_Saml2_ValidationError):
        accept(xml, ring, signed)


def test_a_response_signed_by_another_key_is_refused(tmp_path, ring):
    from idp import keyring

    keyring.generate(tmp_path)
    other = KeyRing.load(tmp_path)
    xml = signed_response(spec(), "both", Signer(other.signing_key_pem, other.certificate_pem))
    assert not xmlsec1_verifies(xml, ring.certificate_pem, "Assertion")
    with pytest.raises(OneLogin_Saml2_ValidationError):
        accept(xml, ring, "both")


def test_an_expired_response_is_refused_by_the_sp(ring, signer):
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    with pytest.raises(OneLogin_Saml2_ValidationError):
        accept(signed_response(spec(issued_at=old), "both", signer), ring, "both")


def test_a_response_for_another_audience_is_refused_by_the_sp(ring, signer):
    with pytest.raises(OneLogin_Saml2_ValidationError):
        accept(signed_response(spec(audience="https://other.example.com"), "both", signer), ring, "both")


def test_the_response_carries_the_web_sso_profile_elements():
    moment = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    root = build_response(spec(issued_at=moment, lifetime=120, in_response_to="_req1")).root
    assert root.get("Destination") == ACS and root.get("InResponseTo") == "_req1"
    assert root.find("samlp:Status/samlp:StatusCode", NS).get("Value").endswith(":status:Success")
    assertion = root.find("saml:Assertion", NS)
    assert assertion.findtext("saml:Issuer", namespaces=NS) == IDP
    data = assertion.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    assert data.attrib == {"NotOnOrAfter": "2030-01-02T03:06:05Z", "Recipient": ACS, "InResponseTo": "_req1"}
    conditions = assertion.find("saml:Conditions", NS)
    assert conditions.attrib == {"NotBefore": "2030-01-02T03:04:05Z", "NotOnOrAfter": "2030-01-02T03:06:05Z"}
    assert conditions.findtext("saml:AudienceRestriction/saml:Audience", namespaces=NS) == SP
    authn = assertion.find("saml:AuthnStatement", NS)
    assert authn.get("AuthnInstant") == "2030-01-02T03:04:05Z" and authn.get("SessionIndex") == "_session1"
    ref = authn.findtext("saml:AuthnContext/saml:AuthnContextClassRef", namespaces=NS)
    assert ref == AC_PASSWORD_PROTECTED_TRANSPORT
    formats = {a.get("Name"): a.get("NameFormat") for a in assertion.iterfind(".//saml:Attribute", NS)}
    assert formats == {"firstName": ATTRNAME_BASIC, "urn:oid:0.9.2342.19200300.100.1.3": ATTRNAME_URI}


def test_ids_are_fresh_xml_ids_for_every_response():
    first, second = build_response(spec()).root, build_response(spec())
    ids = {first.get("ID"), first.find("saml:Assertion", NS).get("ID"), second.root.get("ID")}
    assert len(ids) == 3 and all(i[0] == "_" and len(i) == 41 for i in ids)


def test_attribute_values_are_escaped_not_injected(ring, signer):
    hostile = '</saml:AttributeValue><saml:Attribute Name="admin">yes'
    xml = signed_response(
        spec(subject=Subject("ada@example.com", NAMEID_EMAIL, single_values({"note": hostile}))), "both", signer
    )
    values = etree.fromstring(xml).findall(".//saml:Attribute", NS)
    assert [v.get("Name") for v in values] == ["note"]
    assert accept(xml, ring, "both").attributes == {"note": [hostile]}


@pytest.mark.parametrize("signed", ["assertion", "response"])
@pytest.mark.parametrize("algorithm", ["rsa-sha256", "rsa-sha384", "rsa-sha512"])
def test_each_digest_is_the_one_python_xmlsec_computes_and_xmlsec1_verifies(algorithm, signed, ring, signer):
    """The signature is made from parts prepared once (lxml's c14n, the key parsed once); python-xmlsec,
    signing a copy of the same element itself, must reach the same digest, over text that needs escaping."""
    chosen = signature_algorithm(algorithm)
    odd = Subject(
        "o'neil&co@example.com",
        NAMEID_EMAIL,
        single_values({"displayName": 'Zoë "Z" <O\'Neil> & Co\r\n\ttab', "urn:oid:2.5.4.10": "Ünïcode ✓"}),
    )
    built = build_response(spec(subject=odd))
    reference = copy.deepcopy(built.root)
    root = protect(built, Sign(signed), signer, algorithm=chosen)

    element = reference.find("saml:Assertion", NS) if signed == "assertion" else reference
    template = xmlsec.template.create(element, xmlsec.constants.TransformExclC14N, chosen.signing_method.transform)
    element.find("saml:Issuer", NS).addnext(template)
    ref = xmlsec.template.add_reference(template, chosen.digest_method.transform, uri="#" + element.get("ID"))
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
    xmlsec.tree.add_ids(element, ["ID"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(ring.signing_key_pem, xmlsec.constants.KeyDataFormatPem)
    context.sign(template)

    def digests(tree: etree._Element) -> list[str]:
        found = tree.iterfind(".//{http://www.w3.org/2000/09/xmldsig#}DigestValue")
        return ["".join((value.text or "").split()) for value in found]

    assert len(digests(root)) == 1
    assert digests(root) == digests(reference)
    assert xmlsec1_verifies(serialize(root), ring.certificate_pem, signed.capitalize())
