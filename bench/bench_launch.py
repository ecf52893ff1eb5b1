"""Launch benchmarks: prints figures, never asserts.

    .venv/bin/python bench/bench_launch.py [--rounds 200]

Compares signing in process (python-xmlsec) with one `xmlsec1` subprocess per signature (what
pysaml2 does by default), as a ratio, since absolute times depend on the machine; and measures a
whole launch (open the link, claim it, check access, build, sign, render) through the WSGI app.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from idp import keyring
from idp.config import Settings
from idp.saml.attributes import Subject
from idp.saml.names import AC_PASSWORD_PROTECTED_TRANSPORT, NAMEID_EMAIL
from idp.saml.outbound import Sign, protect, serialize
from idp.saml.response import AssertionSpec, build_response
from idp.saml.xmlsig import Signer


def spec() -> AssertionSpec:
    return AssertionSpec(
        issuer="https://idp.example.com/metadata",
        destination="https://sp.example.com/acs",
        recipient="https://sp.example.com/acs",
        audience="https://sp.example.com",
        subject=Subject("ada@example.com", NAMEID_EMAIL, {"firstName": "Ada", "lastName": "Lovelace"}),
        authn_context=AC_PASSWORD_PROTECTED_TRANSPORT,
        session_index="_s",
        issued_at=datetime.datetime.now(datetime.UTC),
        lifetime=300,
    )


def per_second(work, rounds: int) -> float:
    work()  # warm up
    start = time.perf_counter()
    for _ in range(rounds):
        work()
    return rounds / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    folder = Path(tempfile.mkdtemp())
    keyring.generate(folder / "keys")
    ring = keyring.KeyRing.load(folder / "keys")
    signer = Signer(ring.signing_key_pem, ring.certificate_pem)

    in_process = per_second(lambda: serialize(protect(build_response(spec()), Sign.BOTH, signer)), rounds)
    print(f"in-process build + sign (both signatures): {in_process:8.1f} responses/s")

    xmlsec1 = shutil.which("xmlsec1")
    if xmlsec1:
        from lxml import etree

        template = build_response(spec()).root
        signer.sign(template.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion"))
        unsigned = folder / "response.xml"
        unsigned.write_bytes(etree.tostring(template))

        def subprocess_sign() -> None:
            # The signature template is already in place; xmlsec1 fills it in, as pysaml2 has it do.
            subprocess.run(
                [
                    xmlsec1,
                    "--sign",
                    "--privkey-pem",
                    str(folder / "keys" / "signing.key"),
                    "--id-attr:ID",
                    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                    "--output",
                    str(folder / "out.xml"),
                    str(unsigned),
                ],
                check=True,
                capture_output=True,
            )

        one_signature = per_second(subprocess_sign, max(20, rounds // 5))
        print(f"xmlsec1 subprocess, one signature:         {one_signature:8.1f} signatures/s")
        print(f"ratio in-process (two signatures) / subprocess (one): {in_process / one_signature:6.1f}x")

    from idp.store import open_store
    from idp.web import create_app
    from tests.support import Factory

    settings = Settings.from_env({"IDP_KEYS_DIR": str(folder / "keys"), "IDP_DATABASE": str(folder / "db")})
    store = open_store(settings)
    app = create_app(settings, store=store)
    make = Factory(store)
    brand = make.brand()
    user = make.user(brand=brand)
    from idp.applications.service import Caller

    services = app.extensions["idp"]
    admin = make.user(brand=brand, role="Admin")
    sso_app = services.apps.create(
        Caller(admin),
        brand.id,
        {
            "name": "Bench",
            "authentication_type": "SAML",
            "acs_url": "https://sp.example.com/acs",
            "entity_id": "https://sp.example.com",
            "mappings": {"mail": "email"},
        },
    ).app
    client = app.test_client()
    prefix = len(settings.base_url)

    def launch() -> None:
        url = services.apps.links.url(user_id=user.id, app_id=sso_app.id, brand_id=brand.id, mfa=False, now=time.time())
        assert client.get(url[prefix:]).status_code == 200

    print(f"whole launch through the WSGI app (SQLite): {per_second(launch, rounds):8.1f} launches/s")
    store.close()


if __name__ == "__main__":
    main()
