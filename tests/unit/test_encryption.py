"""Encrypted assertions, judged by python3-saml, the xmlsec1 command and `cryptography`, never by our own code."""

from __future__ import annotations

import base64
import copy
import datetime
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import xmlsec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_ValidationError

from idp.errors import ValidationError
from idp.keyring import KeyRing, make_signing_pair
from idp.saml.attributes import Subject
from idp.saml.encryption import ALGORITHMS, encrypt_assertion
from idp.saml.names import AC_PASSWORD_PROTECTED_TRANSPORT, DS, NAMEID_EMAIL, SAML, SAMLP
from idp.saml.response import AssertionSpec, build_response
from idp.saml.xmlsig import Signer
from tests.independent import AcceptedLogin, xmlsec1_verifies
from tests.signing import encrypted_response, signed_response, single_values
from tests.support import self_signed_certificate

IDP = "https://idp.example.com/metadata"
SP = "https://sp.example.com/metadata"
ACS = "https://sp.example.com/acs"
XENC = "http://www.w3.org/2001/04/xmlenc#"
NS = {"samlp": SAMLP, "saml": SAML, "xenc": XENC, "ds": DS}

NAME_ID = "ada.lovelace@example.com"
ATTRIBUTES = {
    "firstName": "Augusta",
    "urn:oid:0.9.2342.19200300.100.1.3": "countess.of.lovelace@example.org",
    "role": "analytical-engine-operator",
}
SECRETS = (NAME_ID, *ATTRIBUTES.values())

BLOCK_CIPHER_URIS = {
    "aes256-gcm": "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "aes128-cbc": "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
}
RSA_OAEP_MGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
SIGNED_VALUES = ["assertion", "response", "both", None]


@pytest.fixture(scope="module")
def ring(keys_dir) -> KeyRing:
    return KeyRing.load(keys_dir)


@pytest.fixture(scope="module")
def signer(ring) -> Signer:
    return Signer(ring.signing_key_pem, ring.certificate_pem)


@pytest.fixture(scope="module")
def sp_pair() -> tuple[bytes, bytes]:
    """The SP's encryption key and certificate."""
    return make_signing_pair(2048, "sp.example.com")


@pytest.fixture(scope="module")
def other_sp_pair() -> tuple[bytes, bytes]:
    return make_signing_pair(2048, "other-sp.example.com")


def spec(**overrides) -> AssertionSpec:
    values = {
        "issuer": IDP,
        "destination": ACS,
        "recipient": ACS,
        "audience": SP,
        "subject": Subject(NAME_ID, NAMEID_EMAIL, single_values(ATTRIBUTES)),
        "authn_context": AC_PASSWORD_PROTECTED_TRANSPORT,
        "session_index": "_session1",
        "issued_at": datetime.datetime.now(datetime.UTC),
        "lifetime": 300,
    }
    return AssertionSpec(**{**values, **overrides})


def python3_saml_decrypts_and_accepts(
    xml: bytes, ring: KeyRing, signed: str | None, sp_key_pem: bytes, sp_cert_pem: bytes
) -> AcceptedLogin:
    """python3-saml in strict mode, as an SP that holds its decryption key and wants encrypted assertions."""
    signed = signed or "both"
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": SP,
                "assertionConsumerService": {"url": ACS, "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST},
                "x509cert": sp_cert_pem.decode(),
                "privateKey": sp_key_pem.decode(),
            },
            "idp": {
                "entityId": IDP,
                "singleSignOnService": {
                    "url": "https://idp.invalid/sso",
                    "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT,
                },
                "x509cert": ring.certificate_base64,
            },
            "security": {
                "wantAssertionsSigned": signed in ("assertion", "both"),
                "wantMessagesSigned": signed in ("response", "both"),
                "wantAssertionsEncrypted": True,
                "wantNameId": True,
                "rejectDeprecatedAlgorithm": True,
            },
        },
        sp_validation_only=True,
    )
    b64 = base64.b64encode(xml).decode()
    acs = urlsplit(ACS)
    request_data = {
        "https": "on",
        "http_host": acs.netloc,
        "script_name": acs.path,
        "get_data": {},
        "post_data": {"SAMLResponse": b64},
    }
    response = OneLogin_Saml2_Response(settings, b64)  # decrypts here
    response.is_valid(request_data, raise_exceptions=True)
    return AcceptedLogin(
        name_id=response.get_nameid(),
        name_id_format=response.get_nameid_format(),
        attributes=response.get_attributes(),
        session_index=response.get_session_index(),
    )


def xmlsec1_decrypt(xml: bytes, key_pem: bytes, folder: Path) -> subprocess.CompletedProcess[bytes]:
    binary = shutil.which("xmlsec1")
    if binary is None:
        pytest.skip("xmlsec1 is not installed (Debian package xmlsec1)")
    document, key = folder / "response.xml", folder / "sp.key"
    document.write_bytes(xml)
    key.write_bytes(key_pem)
    return subprocess.run(
        [binary, "--decrypt", "--privkey-pem", str(key), str(document)], capture_output=True, check=False
    )


def session_key(encrypted_data: etree._Element, sp_key_pem: bytes) -> bytes:
    """The session key, unwrapped by `cryptography` with RSA-OAEP (MGF1-SHA1, SHA-1), as the URI says."""
    value = encrypted_data.findtext("ds:KeyInfo/xenc:EncryptedKey/xenc:CipherData/xenc:CipherValue", namespaces=NS)
    private_key = serialization.load_pem_private_key(sp_key_pem, password=None)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303
    return private_key.decrypt(base64.b64decode(value), oaep)


def plaintext(encrypted_data: etree._Element, algorithm: str, key: bytes) -> bytes:
    """The encrypted octets, opened with `cryptography` by the rules of XML Encryption 1.1 (5.2.2, 5.2.4)."""
    data = base64.b64decode(encrypted_data.findtext("xenc:CipherData/xenc:CipherValue", namespaces=NS))
    if algorithm == "aes256-gcm":
        return AESGCM(key).decrypt(data[:12], data[12:], None)  # 96-bit IV, then ciphertext and 128-bit tag
    decryptor = Cipher(algorithms.AES(key), modes.CBC(data[:16])).decryptor()
    padded = decryptor.update(data[16:]) + decryptor.finalize()
    return padded[: -padded[-1]]  # ISO 10126 padding: the last octet says how many to drop


def encrypted_data_of(xml: bytes) -> etree._Element:
    return etree.fromstring(xml).find("saml:EncryptedAssertion/xenc:EncryptedData", NS)


@pytest.mark.parametrize("signed", SIGNED_VALUES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_python3_saml_decrypts_and_accepts_each_algorithm_and_signing_mode(algorithm, signed, ring, signer, sp_pair):
    sp_key, sp_cert = sp_pair
    xml = encrypted_response(spec(), signed, signer, sp_cert, algorithm)
    login = python3_saml_decrypts_and_accepts(xml, ring, signed, sp_key, sp_cert)
    assert login.name_id == NAME_ID
    assert login.name_id_format == NAMEID_EMAIL
    assert login.attributes == {name: [value] for name, value in ATTRIBUTES.items()}
    assert login.session_index == "_session1"


@pytest.mark.parametrize("signed", SIGNED_VALUES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_xmlsec1_decrypts_and_the_signatures_sit_where_they_should(algorithm, signed, ring, signer, sp_pair, tmp_path):
    sp_key, sp_cert = sp_pair
    xml = encrypted_response(spec(), signed, signer, sp_cert, algorithm)
    signs_assertion, signs_response = signed in ("assertion", "both", None), signed in ("response", "both", None)
    # The Response signature is over the EncryptedAssertion, so it checks before decryption.
    assert xmlsec1_verifies(xml, ring.certificate_pem, "Response") is signs_response
    result = xmlsec1_decrypt(xml, sp_key, tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    decrypted = result.stdout
    assert f">{NAME_ID}</saml:NameID>".encode() in decrypted
    root = etree.fromstring(decrypted)
    assert root.find(".//xenc:EncryptedData", NS) is None  # replaced by what it held
    assert root.findtext("saml:EncryptedAssertion/saml:Assertion/saml:Subject/saml:NameID", namespaces=NS) == NAME_ID
    # The assertion signature was made before encryption and travels inside it.
    assert xmlsec1_verifies(decrypted, ring.certificate_pem, "Assertion") is signs_assertion


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_nothing_personal_is_left_in_clear(algorithm, signer, sp_pair):
    xml = encrypted_response(spec(), "both", signer, sp_pair[1], algorithm)
    for secret in (*SECRETS, "lovelace", "countess", "engine-operator"):
        assert secret.encode() not in xml
    root = etree.fromstring(xml)
    assert root.find(".//saml:Assertion", NS) is None and root.find(".//saml:NameID", NS) is None
    assert root.find(".//saml:AttributeStatement", NS) is None


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_algorithm_uris_and_layout_are_the_expected_ones(algorithm, signer, sp_pair):
    root = etree.fromstring(encrypted_response(spec(), "both", signer, sp_pair[1], algorithm))
    (encrypted_assertion,) = root.findall("saml:EncryptedAssertion", NS)
    assert [child.tag for child in encrypted_assertion] == [f"{{{XENC}}}EncryptedData"]
    data = encrypted_assertion[0]
    assert data.get("Type") == "http://www.w3.org/2001/04/xmlenc#Element"
    assert [child.tag for child in data] == [
        f"{{{XENC}}}EncryptionMethod",
        f"{{{DS}}}KeyInfo",
        f"{{{XENC}}}CipherData",
    ]
    assert data.find("xenc:EncryptionMethod", NS).get("Algorithm") == BLOCK_CIPHER_URIS[algorithm]
    (encrypted_key,) = data.findall("ds:KeyInfo/xenc:EncryptedKey", NS)
    method = encrypted_key.find("xenc:EncryptionMethod", NS)
    assert method.get("Algorithm") == RSA_OAEP_MGF1P
    digest = method.find("ds:DigestMethod", NS)
    assert digest is None or digest.get("Algorithm") == SHA1  # absent means SHA-1
    # The schema's order in a Response: Issuer, Signature, Status, then the EncryptedAssertion.
    assert [child.tag for child in root] == [
        f"{{{SAML}}}Issuer",
        f"{{{DS}}}Signature",
        f"{{{SAMLP}}}Status",
        f"{{{SAML}}}EncryptedAssertion",
    ]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_cryptography_opens_it_into_a_standalone_signed_assertion(algorithm, ring, signer, sp_pair, tmp_path):
    sp_key, sp_cert = sp_pair
    data = encrypted_data_of(encrypted_response(spec(), "assertion", signer, sp_cert, algorithm))
    key = session_key(data, sp_key)
    assert len(key) == {"aes256-gcm": 32, "aes128-cbc": 16}[algorithm]
    opened = plaintext(data, algorithm, key)
    # The plaintext declares its own namespaces: it parses as a document without the Response around it.
    assertion = etree.fromstring(opened)
    assert assertion.tag == f"{{{SAML}}}Assertion"
    assert assertion.findtext("saml:Subject/saml:NameID", namespaces=NS) == NAME_ID
    assert xmlsec1_verifies(opened, ring.certificate_pem, "Assertion")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_each_encryption_uses_a_fresh_session_key(algorithm, sp_pair):
    sp_key, sp_cert = sp_pair
    built = build_response(spec())
    first_copy, second_copy = copy.deepcopy(built.root), copy.deepcopy(built.root)
    first = encrypt_assertion(first_copy.find("saml:Assertion", NS), sp_cert, algorithm)[0]
    second = encrypt_assertion(second_copy.find("saml:Assertion", NS), sp_cert, algorithm)[0]
    assert session_key(first, sp_key) != session_key(second, sp_key)
    cipher_value = "xenc:CipherData/xenc:CipherValue"
    assert first.findtext(cipher_value, namespaces=NS) != second.findtext(cipher_value, namespaces=NS)
    assert plaintext(first, algorithm, session_key(first, sp_key)) == plaintext(
        second, algorithm, session_key(second, sp_key)
    )


def test_encrypt_assertion_replaces_the_assertion_in_its_parent(sp_pair):
    built = build_response(spec())
    encrypted = encrypt_assertion(built.assertion, sp_pair[1])
    assert encrypted.tag == f"{{{SAML}}}EncryptedAssertion"
    assert encrypted.getparent() is built.root
    assert built.root.find("saml:Assertion", NS) is None
    assert encrypted[0].find("xenc:EncryptionMethod", NS).get("Algorithm") == BLOCK_CIPHER_URIS["aes256-gcm"]
    # lxml sees every node libxmlsec made, so callers may still look into the result.
    assert encrypted.find("xenc:EncryptedData/ds:KeyInfo/xenc:EncryptedKey/xenc:EncryptionMethod", NS) is not None


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_response_encrypted_for_another_sp_is_refused(algorithm, ring, signer, sp_pair, other_sp_pair, tmp_path):
    sp_key, sp_cert = sp_pair
    xml = encrypted_response(spec(), "both", signer, other_sp_pair[1], algorithm)
    # python3-saml decrypts as it reads the Response, and lets libxmlsec's refusal through.
    with pytest.raises(xmlsec.Error, match="failed to decrypt"):
        python3_saml_decrypts_and_accepts(xml, ring, "both", sp_key, sp_cert)
    assert xmlsec1_decrypt(xml, sp_key, tmp_path).returncode != 0
    # ...while the SP it was meant for reads it.
    assert python3_saml_decrypts_and_accepts(xml, ring, "both", *other_sp_pair).name_id == NAME_ID


def test_an_encrypted_assertion_swapped_into_a_signed_response_is_refused(ring, signer, sp_pair):
    sp_key, sp_cert = sp_pair
    victim = etree.fromstring(encrypted_response(spec(), "response", signer, sp_cert))
    other = etree.fromstring(
        encrypted_response(spec(subject=Subject("eve@example.com", NAMEID_EMAIL)), "response", signer, sp_cert)
    )
    victim.replace(victim.find("saml:EncryptedAssertion", NS), other.find("saml:EncryptedAssertion", NS))
    forged = etree.tostring(victim, xml_declaration=True, encoding="UTF-8")
    with pytest.raises(OneLogin_Saml2_ValidationError):
        python3_saml_decrypts_and_accepts(forged, ring, "response", sp_key, sp_cert)


def test_the_judge_refuses_an_unencrypted_response(ring, signer, sp_pair):
    with pytest.raises(OneLogin_Saml2_ValidationError):
        python3_saml_decrypts_and_accepts(signed_response(spec(), "both", signer), ring, "both", *sp_pair)


def test_an_unknown_algorithm_is_a_value_error(signer, sp_pair):
    with pytest.raises(ValueError, match="aes256-gcm"):
        encrypt_assertion(build_response(spec()).assertion, sp_pair[1], "aes192-cbc")
    with pytest.raises(ValueError):
        encrypted_response(spec(), "both", signer, sp_pair[1], "tripledes-cbc")


def ec_certificate() -> bytes:
    cert = self_signed_certificate(ec.generate_private_key(ec.SECP256R1()), "ec-sp", days_after=1)
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    "certificate",
    [
        b"not a certificate",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"",
        "ec",
        "private key",
    ],
)
def test_an_invalid_certificate_is_a_validation_error_naming_the_field(certificate, sp_pair):
    if certificate == "ec":
        certificate = ec_certificate()
    elif certificate == "private key":
        certificate = sp_pair[0]
    assertion = build_response(spec()).assertion
    with pytest.raises(ValidationError) as caught:
        encrypt_assertion(assertion, certificate)
    assert caught.value.field == "encryption_certificate"
    assert assertion.getparent() is not None  # left in place
