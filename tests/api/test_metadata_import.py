"""Importing SP metadata: POST /brands/:brand/sso_applications/import and `idp apps import`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.api.helpers import Org
from tests.independent import metadata_schema_errors
from tests.support import venv_bin

SAMPLES = Path(__file__).resolve().parents[1] / "unit" / "sp_metadata"
SHIBBOLETH = (SAMPLES / "shibboleth-sp3.xml").read_bytes()


def import_xml(client, api, org: Org, body: bytes, *, as_user=None, **query):
    return client.post(
        f"/brands/{org.brand.id}/sso_applications/import",
        data=body,
        query_string=query,
        headers={**api.headers(as_user or org.admin), "Content-Type": "application/samlmetadata+xml"},
    )


def test_importing_metadata_creates_an_app_from_it(client, api, org: Org):
    response = import_xml(client, api, org, SHIBBOLETH, name="Listings")
    assert response.status_code == 200, response.json
    app = response.json["data"]
    assert response.json["info"] == {"created": True}
    assert app["name"] == "Listings" and app["authentication_type"] == "SAML"
    assert app["entity_id"] == "https://sp.example.org/shibboleth"
    assert app["acs_url"] == "https://sp.example.org/Shibboleth.sso/SAML2/POST"
    assert app["sp_certificates"] and app["encryption_certificate"]
    assert app["brands"] == [org.brand.id]
    assert app["open_url"]


def test_importing_the_same_sp_again_updates_its_app(client, api, org: Org):
    first = import_xml(client, api, org, SHIBBOLETH).json["data"]
    second = import_xml(client, api, org, SHIBBOLETH, name="Renamed")
    assert second.json["info"] == {"created": False}
    assert second.json["data"]["id"] == first["id"] and second.json["data"]["name"] == "Renamed"


def test_metadata_can_come_as_json(client, api, org: Org):
    response = client.post(
        f"/brands/{org.brand.id}/sso_applications/import",
        json={"metadata": SHIBBOLETH.decode(), "name": "Via JSON"},
        headers=api.headers(org.admin),
    )
    assert response.status_code == 200 and response.json["data"]["name"] == "Via JSON"


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://x"/>',
    ],
    ids=["not-xml", "xxe", "no-sp-role"],
)
def test_malformed_or_hostile_metadata_is_a_400_naming_the_problem(client, api, org: Org, body):
    response = import_xml(client, api, org, body)
    assert response.status_code == 400
    assert response.json["field"] == "metadata"
    assert "root:" not in response.get_data(as_text=True)  # nothing of /etc/passwd


def test_an_agent_may_not_import(client, api, org: Org):
    assert import_xml(client, api, org, SHIBBOLETH, as_user=org.agent).status_code == 403


def test_other_content_types_are_refused(client, api, org: Org):
    response = client.post(
        f"/brands/{org.brand.id}/sso_applications/import",
        data=SHIBBOLETH,
        headers={**api.headers(org.admin), "Content-Type": "text/plain"},
    )
    assert response.status_code == 415


def test_the_command_imports_a_file_and_prints_one_json_object(tmp_path, keys_dir, store, make, settings):
    brand = make.brand()
    env = {**os.environ, "IDP_KEYS_DIR": str(keys_dir), "IDP_DATABASE": str(settings.database_path)}
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [venv_bin("idp"), "apps", "import", str(SAMPLES / "shibboleth-sp3.xml"), "--brand", brand.id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    printed = json.loads(line)
    assert printed["created"] is True
    assert store.app(printed["id"]).entity_id == "https://sp.example.org/shibboleth"


def test_a_hand_typed_acs_url_replaces_the_imported_ones(client, api, org: Org):
    app = import_xml(client, api, org, SHIBBOLETH).json["data"]
    assert app["acs_endpoints"]
    changed = client.put(
        f"/brands/{org.brand.id}/sso_applications/{app['id']}",
        json={"acs_url": "https://sp.example.org/new/acs"},
        headers=api.headers(org.admin),
    ).json["data"]
    assert changed["acs_endpoints"] == []


REQUESTING_SP = b"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:alg="urn:oasis:names:tc:SAML:metadata:algsupport" entityID="https://crm.example.org/sp">
  <md:Extensions>
    <alg:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
    <alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
  </md:Extensions>
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:Extensions>
      <alg:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha512"/>
      <alg:SigningMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/>
      <alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
      <alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"/>
    </md:Extensions>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:entity</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService index="0" isDefault="true"
        Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://crm.example.org/acs"/>
    <md:AttributeConsumingService index="1">
      <md:ServiceName xml:lang="en">CRM</md:ServiceName>
      <md:RequestedAttribute Name="urn:oid:0.9.2342.19200300.100.1.3" FriendlyName="mail"
          NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri" isRequired="true"/>
      <md:RequestedAttribute Name="urn:oid:2.5.4.42"
          NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"/>
      <md:RequestedAttribute Name="sn" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"/>
      <md:RequestedAttribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.7"/>
    </md:AttributeConsumingService>
    <md:AttributeConsumingService index="4">
      <md:ServiceName xml:lang="en">CRM reports</md:ServiceName>
      <md:RequestedAttribute Name="displayName"/>
    </md:AttributeConsumingService>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"""


def test_the_sample_that_requests_attributes_is_schema_valid():
    assert metadata_schema_errors(REQUESTING_SP) == []


def test_import_reads_name_id_format_requested_attributes_and_algorithms(client, api, org: Org):
    app = import_xml(client, api, org, REQUESTING_SP).json["data"]
    assert app["name_id_format"] == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    # The role's own list wins over the entity's; RSA-SHA1 is never chosen; SHA-512 is its only digest.
    assert app["signature_algorithm"] == "rsa-sha512"
    assert app["attribute_consuming_services"] == [1, 4]
    assert app["mappings"] == {
        "urn:oid:0.9.2342.19200300.100.1.3": {"field": "email", "name_format": "uri", "friendly_name": "mail"},
        "urn:oid:2.5.4.42": {"field": "first_name", "name_format": "uri", "friendly_name": "givenName"},
        "sn": {"field": "last_name", "name_format": "basic"},
        "displayName": {"field": "display_name"},
    }


def test_a_new_import_keeps_what_the_admin_set_and_adds_what_is_not_mapped(client, api, org: Org):
    app = import_xml(client, api, org, REQUESTING_SP).json["data"]
    mine = {"sn": "display_name", "office": "attributes.office_mlsid"}
    changed = client.put(
        f"/brands/{org.brand.id}/sso_applications/{app['id']}",
        json={"mappings": mine, "name_id_format": "emailAddress"},
        headers=api.headers(org.admin),
    ).json["data"]
    assert changed["mappings"] == mine

    again = import_xml(client, api, org, REQUESTING_SP).json["data"]
    assert again["name_id_format"] == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    assert again["mappings"]["sn"] == "display_name" and again["mappings"]["office"] == "attributes.office_mlsid"
    assert set(again["mappings"]) == {
        "sn",
        "office",
        "urn:oid:0.9.2342.19200300.100.1.3",
        "urn:oid:2.5.4.42",
        "displayName",
    }


def test_an_sp_declaring_no_algorithm_we_sign_with_keeps_the_default(client, api, org: Org):
    sha1_only = REQUESTING_SP.replace(b"xmldsig-more#rsa-sha512", b"xmldsig-more#ecdsa-sha256").replace(
        b"xmldsig-more#rsa-sha256", b"xmldsig-more#ecdsa-sha384"
    )
    app = import_xml(client, api, org, sha1_only).json["data"]
    assert app["signature_algorithm"] is None
