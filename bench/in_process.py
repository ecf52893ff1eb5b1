"""In-process launch benchmarks: prints figures, never asserts.

    .venv/bin/python -m bench.in_process [--rounds 200] [--profile]

Compares signing in process (python-xmlsec) with one `xmlsec1` subprocess per signature (what
pysaml2 does by default), as a ratio, since absolute times depend on the machine; and measures a
whole launch (open the link, claim it, check access, build, sign, render) through the WSGI app.
`--profile` prints where a launch's time goes, function by function (cProfile, own time).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import pstats
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from idp import keyring
from idp.saml.attributes import Attribute, Subject
from idp.saml.names import AC_PASSWORD_PROTECTED_TRANSPORT, ATTRNAME_BASIC, NAMEID_EMAIL
from idp.saml.outbound import Sign, protect, serialize
from idp.saml.response import AssertionSpec, build_response
from idp.saml.xmlsig import Signer


def spec() -> AssertionSpec:
    return AssertionSpec(
        issuer="https://idp.example.com/metadata",
        destination="https://sp.example.com/acs",
        recipient="https://sp.example.com/acs",
        audience="https://sp.example.com",
        subject=Subject(
            "ada@example.com",
            NAMEID_EMAIL,
            (Attribute("firstName", ("Ada",), ATTRNAME_BASIC), Attribute("lastName", ("Lovelace",), ATTRNAME_BASIC)),
        ),
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
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    rounds, profile = args.rounds, args.profile
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

    from bench.population import populate
    from idp.web import create_app

    env = {"IDP_KEYS_DIR": str(folder / "keys"), "IDP_DATABASE": str(folder / "db"), "IDP_LINK_TTL": "3600"}
    population = populate(env, size=10, signed="assertion")
    app = create_app(population.settings)
    client = app.test_client()
    prefix = len(population.settings.base_url)

    def launch() -> None:
        (url,) = population.fresh_links(1)
        assert client.get(url[prefix:]).status_code == 200

    print(f"whole launch through the WSGI app (SQLite): {per_second(launch, rounds):8.1f} launches/s")
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [launch() for _ in range(rounds)])
        print(f"\nwhere {rounds} launches spend their time (own time, top 25):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
