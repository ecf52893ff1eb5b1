"""Apps signed with ECDSA-SHA256 by the IdP's optional EC P-256 key, judged by xmlsec1, python3-saml
and pysaml2; the EC certificate in the metadata; and the clear refusals when there is no EC key."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from idp import keyring
from tests.api.helpers import NS, page_text, saml_app
from tests.api.test_metadata_import import REQUESTING_SP, import_xml
from tests.api.test_subjects_and_attributes import launched
from tests.independent import (
    decode,
    metadata_schema_errors,
    protocol_schema_errors,
    pysaml2_accepts,
    python3_saml_accepts,
    xmlsec1_verifies,
)

ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SIGNING_CERTIFICATES = "md:IDPSSODescriptor/md:KeyDescriptor[@use='signing']//ds:X509Certificate/text()"


@pytest.fixture(scope="module")
def ecdsa_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ecdsa") / "keys"
    keyring.generate(folder, ecdsa=True)
    return folder


@pytest.fixture
def keys_dir(ecdsa_keys: Path, tmp_path: Path) -> Path:
    """A keys folder of this test's own, with an EC key beside the RSA one (and changed by some tests)."""
    return Path(shutil.copytree(ecdsa_keys, tmp_path / "keys"))


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "IDP_KEYS_CHECK_INTERVAL": "0.001"}  # every request sees the folder as it is


def certificate_base64(path: Path) -> str:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def test_generate_ecdsa_writes_an_ec_p256_key_and_its_self_signed_certificate(keys_dir):
    key = serialization.load_pem_private_key((keys_dir / "ecdsa.key").read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate((keys_dir / "ecdsa.crt").read_bytes())
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.issuer == cert.subject
    assert (keys_dir / "signing.key").exists(), "the RSA key is still there and still signs"
    assert (keys_dir / "ecdsa.key").stat().st_mode & 0o077 == 0


def test_an_ecdsa_app_is_signed_with_the_ec_key_and_every_judge_accepts_it(apps, client, org, make, keys_dir, tmp_path):
    agent = org.agent
    app, encoded = launched(
        apps, client, org, agent, saml_app(signature_algorithm="ecdsa-sha256", mappings={"email": "email"})
    )
    assert app["signature_algorithm"] == "ecdsa-sha256"
    xml = decode(encoded)
    root = etree.fromstring(xml)
    assert root.xpath("//ds:SignatureMethod/@Algorithm", namespaces=NS) == [ECDSA_SHA256] * 2
    assert root.xpath("//ds:DigestMethod/@Algorithm", namespaces=NS) == [SHA256] * 2
    ec_pem, rsa_pem = (keys_dir / "ecdsa.crt").read_bytes(), (keys_dir / "signing.crt").read_bytes()
    for element in ("Response", "Assertion"):
        assert xmlsec1_verifies(xml, ec_pem, element)
        assert not xmlsec1_verifies(xml, rsa_pem, element), "signed by the EC key, not the RSA one"
    assert protocol_schema_errors(xml) == []
    login = python3_saml_accepts(
        encoded,
        idp_entity_id=app["issuer"],
        idp_certificate_b64=certificate_base64(keys_dir / "ecdsa.crt"),
        sp_entity_id=app["entity_id"],
        acs_url=app["acs_url"],
        want_assertions_signed=True,
        want_messages_signed=True,
    )
    assert login.name_id == agent.email
    metadata = client.get(f"/sso_applications/{app['id']}/metadata").get_data()
    read = pysaml2_accepts(
        encoded, idp_metadata=metadata, sp_entity_id=app["entity_id"], acs_url=app["acs_url"], workdir=tmp_path
    )
    assert read.name_id == agent.email


def test_a_tampered_ecdsa_response_is_refused_by_xmlsec1(apps, client, org, keys_dir):
    _, encoded = launched(apps, client, org, org.agent, saml_app(signature_algorithm="ecdsa-sha256"))
    xml = decode(encoded).replace(org.agent.email.encode(), b"boss@acme.example")
    assert not xmlsec1_verifies(xml, (keys_dir / "ecdsa.crt").read_bytes(), "Assertion")


def test_other_apps_stay_rsa_signed(apps, client, org, keys_dir):
    _, encoded = launched(apps, client, org, org.agent, saml_app())
    xml = decode(encoded)
    assert etree.fromstring(xml).xpath("//ds:SignatureMethod/@Algorithm", namespaces=NS) == [RSA_SHA256] * 2
    assert xmlsec1_verifies(xml, (keys_dir / "signing.crt").read_bytes(), "Response")


def test_metadata_publishes_the_ec_certificate_and_stays_rsa_signed(client, keys_dir):
    xml = client.get("/metadata").get_data()
    assert metadata_schema_errors(xml) == []
    root = etree.fromstring(xml)
    published = ["".join(text.split()) for text in root.xpath(SIGNING_CERTIFICATES, namespaces=NS)]
    assert published == [certificate_base64(keys_dir / "signing.crt"), certificate_base64(keys_dir / "ecdsa.crt")]
    methods = root.xpath("md:IDPSSODescriptor/md:Extensions/*[local-name()='SigningMethod']/@Algorithm", namespaces=NS)
    assert ECDSA_SHA256 in methods
    assert root.xpath("ds:Signature//ds:SignatureMethod/@Algorithm", namespaces=NS) == [RSA_SHA256]
    assert xmlsec1_verifies(xml, (keys_dir / "signing.crt").read_bytes(), "EntityDescriptor")


def test_without_an_ec_key_an_app_cannot_choose_ecdsa(apps, org, keys_dir, client):
    for name in ("ecdsa.key", "ecdsa.crt"):
        (keys_dir / name).unlink()
    assert client.get("/healthz").status_code == 200  # the ring reads the folder again
    created = apps.create(org.admin, org.brand, saml_app(signature_algorithm="ecdsa-sha256"))
    assert created.status_code == 400
    assert created.json["field"] == "signature_algorithm"
    assert "idp keys generate --ecdsa" in created.json["message"]
    plain = apps.created(org.admin, org.brand, saml_app())
    changed = apps.update(org.admin, org.brand, plain["id"], {"signature_algorithm": "ecdsa-sha256"})
    assert changed.status_code == 400 and changed.json["field"] == "signature_algorithm"


def test_an_ecdsa_app_whose_ec_key_went_away_is_refused_clearly(apps, client, org, keys_dir):
    app = apps.created(org.admin, org.brand, saml_app(signature_algorithm="ecdsa-sha256"))
    for name in ("ecdsa.key", "ecdsa.crt"):
        (keys_dir / name).unlink()
    (listed,) = [item for item in apps.listed(org.agent, org.brand) if item["id"] == app["id"]]
    response = client.get(listed["open_url"])
    assert response.status_code == 409
    text = page_text(response.get_data(as_text=True))
    assert "ECDSA" in text and "signature_algorithm" in text
    assert "SAMLResponse" not in response.get_data(as_text=True)
    # Changing the app back to RSA mends it.
    assert apps.update(org.admin, org.brand, app["id"], {"signature_algorithm": "rsa-sha256"}).status_code == 200


def ecdsa_preferring_sp() -> bytes:
    """The sample SP's metadata, listing ECDSA-SHA256 first, then RSA-SHA256, with SHA-256 digests."""
    return REQUESTING_SP.replace(
        b"""      <alg:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha512"/>
      <alg:SigningMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/>
      <alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
      <alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"/>""",
        b"""      <alg:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
      <alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>
      <alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>""",
    )


def test_import_takes_an_sps_preference_for_ecdsa_when_there_is_an_ec_key(client, api, org, keys_dir):
    xml = ecdsa_preferring_sp()
    assert b"ecdsa-sha256" in xml and metadata_schema_errors(xml) == []
    assert import_xml(client, api, org, xml).json["data"]["signature_algorithm"] == "ecdsa-sha256"


def test_import_passes_over_ecdsa_without_an_ec_key(client, api, org, keys_dir):
    for name in ("ecdsa.key", "ecdsa.crt"):
        (keys_dir / name).unlink()
    imported = import_xml(client, api, org, ecdsa_preferring_sp())
    assert imported.status_code == 200, imported.json
    assert imported.json["data"]["signature_algorithm"] == "rsa-sha256"
