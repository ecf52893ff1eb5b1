"""Importing SP metadata: POST /brands/:brand/sso_applications/import and `idp apps import`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.api.helpers import Org
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
