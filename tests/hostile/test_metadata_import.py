"""SP metadata fed hostile input: real metadata (Shibboleth, SimpleSAMLphp, mellon) mutated is read or
refused with a ValidationError naming `metadata`; over HTTP the import never answers 5xx, and an app
imported from whatever metadata was accepted still launches and answers its SP without one."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.applications.importing import fields_from_metadata
from idp.errors import ValidationError
from idp.saml.sp_metadata import parse_sp_metadata
from tests.api.helpers import saml_app
from tests.hostile.saml_inputs import (
    BASE_URL,
    HOSTILE_TEXT,
    METADATA,
    RSA_SHA256,
    authn_request,
    mutated,
    odd_certificates,
    redirect_value,
    utf8,
)

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
SAMPLES = Path(__file__).resolve().parents[1] / "unit" / "sp_metadata"
REAL = {path.stem: path.read_bytes() for path in sorted(SAMPLES.glob("*.xml"))}
ENTITY_IDS = st.none() | HOSTILE_TEXT | st.sampled_from(["https://sp.example.org/shibboleth", " "])


@st.composite
def mutated_metadata(draw: st.DrawFn) -> bytes:
    return draw(mutated(REAL[draw(st.sampled_from(sorted(REAL)))], METADATA))


def test_the_real_metadata_mutated_below_is_read() -> None:
    for xml in REAL.values():
        assert parse_sp_metadata(xml).assertion_consumer_services


@SETTINGS
@given(xml=mutated_metadata(), entity_id=ENTITY_IDS)
def test_mutated_metadata_is_read_or_refused_naming_the_metadata(xml, entity_id) -> None:
    try:
        meta = parse_sp_metadata(xml, entity_id=entity_id)
    except ValidationError as refused:
        assert refused.field == "metadata"
        return
    try:
        fields_from_metadata(meta, allow_http=False)
    except ValidationError as refused:
        assert refused.field in ("entity_id", "acs_url", "slo_url")


# ---------------------------------------------------------------------------------------------
# Over HTTP
# ---------------------------------------------------------------------------------------------


def assert_clean_refusal(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        assert response.is_json and response.json.get("message"), response.get_data(as_text=True)[:500]


@pytest.fixture
def importing(client, apps, org):
    """POST to the import as the org's admin. After a success the agent's link to the app opens, and
    the app's own SSO endpoint answers a signed AuthnRequest in its SP's name, neither with a 5xx."""
    path, headers = apps.path(org.brand, "import"), apps.headers(org.admin)

    def post(data: bytes, content_type: str, query: str = "") -> None:
        response = client.post(f"{path}?{query}", data=data, content_type=content_type, headers=headers)
        assert_clean_refusal(response)
        if response.status_code != 200:
            return
        app = response.json["data"]
        (listed,) = [a for a in apps.listed(org.agent, org.brand) if a["id"] == app["id"]]
        if listed["open_url"]:
            assert client.get(listed["open_url"].removeprefix(BASE_URL)).status_code < 500
        sso = f"/sso_applications/{app['id']}/sso"
        xml = authn_request(entity_id=app["entity_id"], acs_url=app["acs_url"], sso_url=BASE_URL + sso)
        query = f"SAMLRequest={redirect_value(xml)}&SigAlg={quote(RSA_SHA256, safe='')}&Signature=AAAA"
        assert client.get(f"{sso}?{query}").status_code < 500

    return post


@SETTINGS
@given(
    xml=mutated_metadata(),
    content_type=st.sampled_from(["application/samlmetadata+xml", "application/xml", "text/xml; charset=utf-16"]),
    name=st.none() | HOSTILE_TEXT,
    entity_id=ENTITY_IDS,
)
def test_importing_raw_xml_never_fails(importing, xml, content_type, name, entity_id) -> None:
    fields = (("name", name), ("entity_id", entity_id))
    importing(xml, content_type, "&".join(f"{key}={quote(utf8(value), safe='')}" for key, value in fields if value))


@SETTINGS
@given(xml=mutated_metadata(), name=st.none() | HOSTILE_TEXT, entity_id=ENTITY_IDS)
def test_importing_json_never_fails(importing, xml, name, entity_id) -> None:
    body = {"metadata": xml.decode("utf-8", "surrogateescape"), "name": name, "entity_id": entity_id}
    importing(json.dumps(body).encode(), "application/json")


ODD_KINDS = ["ec", "ed25519", "dsa", "rsa", "unknown-key-type"]


def with_certificate(xml: bytes, certificate: str) -> bytes:
    """The metadata with its first X509Certificate replaced."""
    text = xml.decode()
    start = text.index("<ds:X509Certificate>") + len("<ds:X509Certificate>")
    return (text[:start] + certificate + text[text.index("</ds:X509Certificate>") :]).encode()


@pytest.mark.parametrize("kind", ODD_KINDS[:-1])
def test_an_app_imported_with_a_certificate_of_any_key_type_answers_its_sp_without_a_5xx(importing, kind) -> None:
    importing(with_certificate(REAL["shibboleth-sp3"], odd_certificates()[ODD_KINDS.index(kind)]), "application/xml")


def test_a_certificate_whose_key_cannot_be_read_is_refused_naming_the_metadata(client, apps, org) -> None:
    unreadable = odd_certificates()[ODD_KINDS.index("unknown-key-type")]
    response = client.post(
        apps.path(org.brand, "import"),
        data=with_certificate(REAL["shibboleth-sp3"], unreadable),
        content_type="application/xml",
        headers=apps.headers(org.admin),
    )
    assert response.status_code == 400 and response.json["field"] == "metadata", response.json
    assert "key" in response.json["message"]
    created = apps.create(org.admin, org.brand, saml_app(sp_certificates=[unreadable]))
    assert created.status_code == 400 and created.json["field"] == "sp_certificates", created.json
