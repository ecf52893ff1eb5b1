"""A signing-key rollover without an outage, as Shibboleth SP 3 and python3-saml see it.

An IdP of its own (gunicorn, two workers) so that its keys can change under it. `idp keys stage`,
`promote` and `retire` run while it serves; each step must reach both workers within seconds, with
the same worker processes (no restart). Service providers configured from the metadata before
`stage` keep accepting logins until `promote`; those that refreshed the metadata after `stage`
keep accepting them through `promote` and `retire`.

Shibboleth reads the app's IdP metadata from a file and checks it as a federation member would:
against the schemas, its validUntil (`RequireValidUntil`) and its signature (`Signature`, with the
certificate of the key that signs it). python3-saml reads the same metadata with its own parser
(every signing certificate in it: `x509certMulti`) and validates launches in strict mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from lxml import etree
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from idp.keyring import make_signing_pair
from tests.deployment import Deployment, cli, deploy
from tests.independent import python3_saml_accepts
from tests.interop.helpers import (
    NAMESPACES,
    every_worker_has_the_new_keys,
    every_worker_publishes,
    import_sp_metadata,
    pem,
    signing_certificates,
)
from tests.interop.test_shibboleth import (
    MAPPINGS,
    ShibbolethSP,
    accepted,
    generate_sp_keys,
    launch,
    let_www_data_read,
    post_to_acs,
    readable_workdir,
    require_shibboleth,
    shibboleth_running,
    write_sp_config,
)
from tests.support import free_port

PYTHON3_SAML_ACS = "http://127.0.0.1/python3-saml/acs"
PYTHON3_SAML_ENTITY_ID = "urn:example:rollover:python3-saml"
FOUR_WEEKS = 28 * 24 * 3600


@pytest.fixture(scope="module")
def idp(tmp_path_factory) -> Iterator[Deployment]:
    """Not the suite's shared IdP: this one's keys change."""
    with deploy(tmp_path_factory.mktemp("rollover-idp"), None) as deployment:
        yield deployment


def metadata_of(idp: Deployment, app: dict) -> bytes:
    response = requests.get(f"{idp.base_url}/sso_applications/{app['id']}/metadata", timeout=10)
    assert response.status_code == 200
    return response.content


def metadata_signer(xml: bytes) -> str:
    """The certificate in the metadata's own signature (checked by Shibboleth, not trusted from here)."""
    (certificate,) = etree.fromstring(xml).xpath("ds:Signature//ds:X509Certificate/text()", namespaces=NAMESPACES)
    return "".join(certificate.split())


# --- python3-saml ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def python3_saml_app(idp: Deployment) -> dict:
    return idp.create_app(
        name="python3-saml",
        entity_id=PYTHON3_SAML_ENTITY_ID,
        acs_url=PYTHON3_SAML_ACS,
        start_url="http://127.0.0.1/python3-saml/home",
        signed="both",
        mappings={"email": "email"},
    )


def python3_saml_login(idp: Deployment, app: dict, metadata: bytes) -> None:
    """Launch the app and validate the response as python3-saml configured from `metadata` does."""
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(metadata)["idp"]
    certificates = parsed.get("x509certMulti", {}).get("signing") or [parsed["x509cert"]]
    _, fields = idp.launch(app["id"])
    python3_saml_accepts(
        fields["SAMLResponse"],
        idp_entity_id=parsed["entityId"],
        idp_certificate_b64=certificates[0],
        idp_signing_certificates=certificates,
        sp_entity_id=PYTHON3_SAML_ENTITY_ID,
        acs_url=PYTHON3_SAML_ACS,
        want_assertions_signed=True,
        want_messages_signed=True,
    )


# --- Shibboleth ----------------------------------------------------------------------------------


def checking_metadata(sp: ShibbolethSP, metadata: bytes, signer_pem: str | None = None) -> None:
    """Have shibd check the metadata's validUntil and its signature by the key that signed it (or
    by `signer_pem`)."""
    (sp.workdir / "metadata-signer.pem").write_text(signer_pem or pem(metadata_signer(metadata)))
    config = sp.workdir / "shibboleth2.xml"
    provider = f'path="{sp.workdir}/idp-metadata.xml"/>'
    text = config.read_text()
    assert provider in text
    config.write_text(
        text.replace(
            provider,
            f'path="{sp.workdir}/idp-metadata.xml">\n'
            f'            <MetadataFilter type="RequireValidUntil" maxValidityInterval="{FOUR_WEEKS}"/>\n'
            f'            <MetadataFilter type="Signature" certificate="{sp.workdir}/metadata-signer.pem"/>\n'
            "        </MetadataProvider>",
        )
    )


@contextlib.contextmanager
def shibboleth_from(
    binaries: dict[str, str], sp: ShibbolethSP, metadata: bytes, *, signer_pem: str | None = None
) -> Iterator[None]:
    """The SP running with this copy of the app's IdP metadata."""
    port = int(sp.base_url.rsplit(":", 1)[1])
    entity_id = etree.fromstring(metadata).get("entityID")
    write_sp_config(sp.workdir, port=port, sp_entity_id=sp.entity_id, idp_entity_id=entity_id, metadata=metadata)
    checking_metadata(sp, metadata, signer_pem)
    let_www_data_read(sp.workdir)
    with shibboleth_running(binaries, sp):
        yield


@pytest.fixture(scope="module")
def shibboleth(idp: Deployment) -> Iterator[tuple[dict[str, str], ShibbolethSP]]:
    """A Shibboleth SP imported into the IdP from its own metadata, not yet running."""
    binaries = require_shibboleth()
    with readable_workdir() as workdir:
        base_url = f"http://127.0.0.1:{free_port()}"
        sp = ShibbolethSP(base_url=base_url, entity_id=f"{base_url}/shibboleth", workdir=workdir)
        generate_sp_keys(binaries["shib-keygen"], workdir, sp.entity_id)
        global_metadata = requests.get(f"{idp.base_url}/metadata", timeout=10).content
        with shibboleth_from(binaries, sp, global_metadata):
            served = requests.get(sp.metadata_url, timeout=10)
        assert served.status_code == 200, sp.logs()
        sp.metadata = served.content
        imported = import_sp_metadata(idp, sp.metadata, name="Shibboleth SP (rollover)")
        sp.imported = imported.app
        sp.app = idp.update_app(
            imported.app["id"], start_url=sp.protected_url, mappings=MAPPINGS, name_id_format="emailAddress"
        )
        yield binaries, sp


def test_a_signing_key_rollover_keeps_logins_working_for_sps_that_refresh_the_metadata(
    idp: Deployment, shibboleth, python3_saml_app: dict
) -> None:
    binaries, sp = shibboleth
    before_stage = metadata_of(idp, sp.app)
    python3_before_stage = metadata_of(idp, python3_saml_app)
    assert len(signing_certificates(before_stage)) == 1

    # Configured from the metadata before `stage`: logins work, and keep working once the next key is staged.
    with shibboleth_from(binaries, sp, before_stage):
        accepted(sp, launch(idp, sp))
        python3_saml_login(idp, python3_saml_app, python3_before_stage)

        staged = cli(idp.env, "keys", "stage")
        assert "refresh the IdP's metadata" in staged["tell_service_providers"]
        every_worker_publishes(idp, 2)

        accepted(sp, launch(idp, sp))
        python3_saml_login(idp, python3_saml_app, python3_before_stage)

    # Refreshed from the metadata after `stage`: both certificates, the old one still signing.
    after_stage = metadata_of(idp, sp.app)
    python3_after_stage = metadata_of(idp, python3_saml_app)
    assert signing_certificates(after_stage)[0] == signing_certificates(before_stage)[0]
    assert len(signing_certificates(after_stage)) == 2
    with shibboleth_from(binaries, sp, after_stage):
        accepted(sp, launch(idp, sp))

        promoted = cli(idp.env, "keys", "promote")
        every_worker_publishes(idp, 2)
        new_certificate = signing_certificates(metadata_of(idp, sp.app))[0]
        assert new_certificate == signing_certificates(after_stage)[1]
        assert promoted["keys"]["retiring"]["name"] == staged["keys"]["active"]["name"]

        # The new key signs: an SP that never refreshed refuses, the refreshed ones accept.
        with pytest.raises(OneLogin_Saml2_ValidationError):
            python3_saml_login(idp, python3_saml_app, python3_before_stage)
        accepted(sp, launch(idp, sp))
        python3_saml_login(idp, python3_saml_app, python3_after_stage)

        cli(idp.env, "keys", "retire")
        every_worker_publishes(idp, 1)
        assert signing_certificates(metadata_of(idp, sp.app)) == [new_certificate]

        accepted(sp, launch(idp, sp))
        python3_saml_login(idp, python3_saml_app, python3_after_stage)

    # And the metadata as it is now, signed by the new key, is what Shibboleth takes from here on.
    with shibboleth_from(binaries, sp, metadata_of(idp, sp.app)):
        accepted(sp, launch(idp, sp))


def test_launch_links_keep_opening_through_a_link_key_rollover(idp: Deployment, python3_saml_app: dict) -> None:
    """A link minted before each step opens after it (until retire drops its key)."""
    before = idp.open_url(python3_saml_app["id"])
    staged = cli(idp.env, "keys", "stage", "link")["keys"]
    every_worker_has_the_new_keys(idp)
    during = idp.open_url(python3_saml_app["id"])
    promoted = cli(idp.env, "keys", "promote", "link")["keys"]
    every_worker_has_the_new_keys(idp)
    after = idp.open_url(python3_saml_app["id"])

    assert [sealed_with(url) for url in (before, during, after)] == [
        staged["seals"],
        staged["seals"],
        promoted["seals"],
    ]
    assert promoted["seals"] == staged["staged"][0]
    for url in (before, during, after):
        assert requests.get(url, timeout=10).status_code == 200

    cli(idp.env, "keys", "retire", "link")
    every_worker_has_the_new_keys(idp)
    assert requests.get(idp.open_url(python3_saml_app["id"]), timeout=10).status_code == 200


def sealed_with(open_url: str) -> str:
    """The key id a launch link was sealed with (the hash's first part)."""
    (link_hash,) = parse_qs(urlsplit(open_url).query)["hash"]
    return link_hash.split(".")[0]


def test_shibboleth_takes_no_metadata_whose_signature_is_not_the_idps(idp: Deployment, shibboleth) -> None:
    """So that the Signature filter above means something: trusting another signer, the SP has no
    metadata for the IdP and refuses the same login."""
    binaries, sp = shibboleth
    metadata = metadata_of(idp, sp.app)
    _, other_certificate = make_signing_pair(2048, "someone else")
    with shibboleth_from(binaries, sp, metadata, signer_pem=other_certificate.decode()):
        _, response = post_to_acs(sp.acs_url, launch(idp, sp))
        assert response.status_code != 302
        assert "signature" in sp.shibd_log().lower()
