"""ECDSA-SHA256 as the five service providers see it: which accept a Response signed with the IdP's EC
P-256 key (Shibboleth SP) and which refuse it (SimpleSAMLphp, mellon, Lasso, node-saml), and that
none of them is put off by the EC certificate in the metadata when the app is RSA-signed.

An IdP of its own, with `idp keys generate --ecdsa` run before any SP is set up, so that every SP is
configured from metadata that publishes the RSA certificate and the EC one as signing KeyDescriptors
(node-saml, which takes certificates and not metadata, is given both). Each SP is set up by its own
module's fixture and judged by its own module's checks; the app is switched to `ecdsa-sha256` for a
test and back afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
import requests
from lxml import etree

from tests.deployment import Deployment, cli, deploy
from tests.interop import test_lasso, test_mellon, test_node_saml, test_shibboleth, test_simplesamlphp
from tests.interop.helpers import NAMESPACES, decoded, every_worker_publishes, idp_metadata, pem, signing_certificates
from tests.interop.test_lasso import lasso_sp  # noqa: F401 - the SP fixtures, on this module's IdP
from tests.interop.test_mellon import mellon  # noqa: F401
from tests.interop.test_node_saml import node_saml  # noqa: F401
from tests.interop.test_shibboleth import sp  # noqa: F401
from tests.interop.test_simplesamlphp import simplesamlphp  # noqa: F401

ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def published_certificates(idp: Deployment) -> list[str]:
    return signing_certificates(requests.get(f"{idp.base_url}/metadata", timeout=10).content)


@pytest.fixture(scope="module")
def idp(tmp_path_factory) -> Iterator[Deployment]:
    """Not the suite's shared IdP: this one has an EC key, published before any SP reads the metadata."""
    with deploy(tmp_path_factory.mktemp("ecdsa-idp"), None) as deployment:
        cli(deployment.env, "keys", "generate", "--ecdsa")
        every_worker_publishes(deployment, 2)  # each worker, not only the one a first request meets
        yield deployment


@pytest.fixture
def ecdsa(idp: Deployment) -> Iterator[Callable[[str], None]]:
    """Switch an app to ECDSA-SHA256 for one test, and back to the default afterwards."""
    switched: list[str] = []

    def switch(app_id: str) -> None:
        assert idp.update_app(app_id, signature_algorithm="ecdsa-sha256")["signature_algorithm"] == "ecdsa-sha256"
        switched.append(app_id)

    yield switch
    for app_id in switched:
        idp.update_app(app_id, signature_algorithm=None)


def signature_methods(saml_response: str) -> list[str]:
    """The SignatureMethod of the Response's own signature (it is in the clear even when the assertion is not)."""
    return decoded(saml_response).xpath(
        "ds:Signature/ds:SignedInfo/ds:SignatureMethod/@Algorithm", namespaces=NAMESPACES
    )


def test_the_metadata_every_sp_reads_publishes_both_certificates(idp: Deployment) -> None:
    rsa, ec = published_certificates(idp)
    assert pem(rsa) == idp_metadata(idp).certificate_pem, "the RSA certificate, which signs, comes first"
    assert ec != rsa


def rsa(idp: Deployment, app_id: str) -> None:
    """The app signed with RSA-SHA256, whatever the import chose from the SP's metadata."""
    assert idp.update_app(app_id, signature_algorithm=None)["signature_algorithm"] is None


# --- Shibboleth SP 3: accepts ---------------------------------------------------------------------


def test_shibboleth_accepts_rsa_beside_a_published_ec_certificate(idp, sp) -> None:  # noqa: F811
    test_shibboleth.configure(idp, sp)
    rsa(idp, sp.app["id"])
    fields = test_shibboleth.launch(idp, sp)
    assert signature_methods(fields["SAMLResponse"]) == [RSA_SHA256]
    test_shibboleth.accepted(sp, fields)


def test_shibboleths_metadata_asks_for_ecdsa_and_the_import_takes_it(sp) -> None:  # noqa: F811
    methods = etree.fromstring(sp.metadata).xpath("//*[local-name()='SigningMethod']/@Algorithm")
    assert ECDSA_SHA256 in methods, methods
    assert sp.imported["signature_algorithm"] == "ecdsa-sha256"


def test_shibboleth_accepts_ecdsa_sha256(idp, sp, ecdsa) -> None:  # noqa: F811
    test_shibboleth.configure(idp, sp)
    ecdsa(sp.app["id"])
    fields = test_shibboleth.launch(idp, sp)
    assert signature_methods(fields["SAMLResponse"]) == [ECDSA_SHA256]
    browser = test_shibboleth.accepted(sp, fields)
    test_shibboleth.assert_the_agent(idp, sp, test_shibboleth.what_the_sp_reports(sp, browser))


# --- SimpleSAMLphp 1.19: refuses (its saml2 library casts keys for the RSA algorithms only) -----------


def test_simplesamlphp_accepts_rsa_beside_a_published_ec_certificate(idp, simplesamlphp) -> None:  # noqa: F811
    test_simplesamlphp.configure(idp, simplesamlphp)
    rsa(idp, simplesamlphp.app_id)
    fields = test_simplesamlphp.launch(idp, simplesamlphp)
    offset = simplesamlphp.log_size()
    with requests.Session() as browser:
        page = test_simplesamlphp.post_to_acs(browser, simplesamlphp, fields)
    test_simplesamlphp.assert_signed_in(simplesamlphp, page, offset, simplesamlphp.whoami_url)


def test_simplesamlphp_refuses_ecdsa_sha256(idp, simplesamlphp, ecdsa) -> None:  # noqa: F811
    test_simplesamlphp.configure(idp, simplesamlphp)
    ecdsa(simplesamlphp.app_id)
    fields = test_simplesamlphp.launch(idp, simplesamlphp)
    assert signature_methods(fields["SAMLResponse"]) == [ECDSA_SHA256]
    offset = simplesamlphp.log_size()
    with requests.Session() as browser:
        refused = test_simplesamlphp.post_to_acs(browser, simplesamlphp, fields)
        assert not refused.history and "An unhandled exception was thrown" in refused.text, refused.text[:500]
        assert browser.get(simplesamlphp.whoami_url, timeout=10).status_code == 401, "no session"
    log = simplesamlphp.log_since(offset)
    assert "Unsupported signing algorithm" in log, log


# --- mod_auth_mellon 0.18 (Lasso): refuses ------------------------------------------------------------


def test_mellon_accepts_rsa_beside_a_published_ec_certificate(idp, mellon) -> None:  # noqa: F811
    test_mellon.configure(idp, mellon)
    rsa(idp, mellon.app_id)
    fields = test_mellon.launch(idp, mellon)
    offset = mellon.log_size()
    test_mellon.assert_the_agent(mellon, test_mellon.post_to_acs(mellon, fields), offset)


def test_mellon_refuses_ecdsa_sha256(idp, mellon, ecdsa) -> None:  # noqa: F811
    test_mellon.configure(idp, mellon)
    ecdsa(mellon.app_id)
    fields = test_mellon.launch(idp, mellon)
    assert signature_methods(fields["SAMLResponse"]) == [ECDSA_SHA256]
    offset = mellon.log_size()
    refused = test_mellon.post_to_acs(mellon, fields)
    log = mellon.log_since(offset)
    assert refused.status_code == 400 and not refused.history, f"{refused.status_code} {refused.text[:500]}"
    assert "Lasso error: [-111] Failed to verify signature." in log, log


# --- Lasso (python3-lasso): refuses -------------------------------------------------------------------


def test_lasso_accepts_rsa_beside_a_published_ec_certificate(idp, lasso_sp) -> None:  # noqa: F811
    test_lasso.configure(idp, lasso_sp)
    rsa(idp, lasso_sp.app_id)
    assert lasso_sp.judge(test_lasso.launch(idp, lasso_sp)) == test_lasso.the_agent(lasso_sp)


def test_lasso_refuses_ecdsa_sha256(idp, lasso_sp, ecdsa) -> None:  # noqa: F811
    test_lasso.configure(idp, lasso_sp)
    ecdsa(lasso_sp.app_id)
    saml_response = test_lasso.launch(idp, lasso_sp)
    assert signature_methods(saml_response) == [ECDSA_SHA256]
    refused = lasso_sp.judge(saml_response)
    assert refused["accepted"] is False and refused["step"] == "processAuthnResponseMsg", refused
    assert refused["code"] == test_lasso.SIGNATURE_VERIFICATION_FAILED, refused


# --- node-saml 5: refuses (xml-crypto knows the RSA signature algorithms only) ------------------------


def test_node_saml_accepts_rsa_with_both_certificates(idp, node_saml) -> None:  # noqa: F811
    node_saml.idp_certificate_pem = [pem(certificate) for certificate in published_certificates(idp)]
    test_node_saml.configure(idp, node_saml)
    rsa(idp, node_saml.app_id)
    verdict = node_saml.validate(test_node_saml.launch(idp, node_saml), "both")
    test_node_saml.assert_the_agent(node_saml, verdict)


def test_node_saml_refuses_ecdsa_sha256(idp, node_saml, ecdsa) -> None:  # noqa: F811
    node_saml.idp_certificate_pem = [pem(certificate) for certificate in published_certificates(idp)]
    test_node_saml.configure(idp, node_saml)
    ecdsa(node_saml.app_id)
    saml_response = test_node_saml.launch(idp, node_saml)
    assert signature_methods(saml_response) == [ECDSA_SHA256]
    assert node_saml.validate(saml_response, "both") == {"error": "Invalid document signature"}


def test_lasso_refuses_ecdsa_sha256_even_trusting_the_ec_certificate_alone(idp, lasso_sp, ecdsa, tmp_path) -> None:  # noqa: F811
    """Not a matter of which certificate it tries: with only the EC one in its copy of the metadata
    (and no metadata signature, which that change would break), Lasso still refuses."""
    test_lasso.configure(idp, lasso_sp)
    ecdsa(lasso_sp.app_id)
    saml_response = test_lasso.launch(idp, lasso_sp)
    metadata = etree.fromstring((lasso_sp.folder / "idp-metadata.xml").read_bytes())
    for signature in metadata.findall(f"{{{NAMESPACES['ds']}}}Signature"):
        metadata.remove(signature)
    rsa_descriptor, _ = metadata.xpath("md:IDPSSODescriptor/md:KeyDescriptor[@use='signing']", namespaces=NAMESPACES)
    rsa_descriptor.getparent().remove(rsa_descriptor)
    alone = dataclasses.replace(lasso_sp, folder=tmp_path)
    for name in ("sp-metadata.xml", "sp.key", "sp.crt"):
        (tmp_path / name).write_bytes((lasso_sp.folder / name).read_bytes())
    (tmp_path / "idp-metadata.xml").write_bytes(etree.tostring(metadata))
    refused = alone.judge(saml_response)
    assert refused["accepted"] is False and refused["code"] == test_lasso.SIGNATURE_VERIFICATION_FAILED, refused
