"""In-process launch benchmarks: prints figures, never asserts.

    .venv/bin/python -m bench.in_process [--rounds 200] [--repeats 7] [--sizes 10,100000] [--profile]

Measures whole launches through the WSGI app in process (open the link, claim it, check access,
build, sign, render; no HTTP), for `signed` = assertion and both, against the RSA-2048 sign rate
measured in the same run, in turns: a sign-rate interval, then each kind of launch, `--repeats`
times, so that a machine others share slows all of them alike. It prints the median of each ratio,
and of the rate of a launch signed by the EC P-256 key (`ecdsa-sha256`) to the same RSA launch.
`--sizes` adds the cost per launch at the largest size of store against the smallest.
`--profile` prints where one launch's time goes, function by function (cProfile).
`--xmlsec1` compares signing in process (python-xmlsec) with one `xmlsec1` subprocess per
signature (what pysaml2 does by default).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.signing import rsa2048_signs_per_second
from idp import keyring
from idp.saml.attributes import Attribute, Subject
from idp.saml.names import AC_PASSWORD_PROTECTED_TRANSPORT, ATTRNAME_BASIC, NAMEID_EMAIL
from idp.saml.outbound import Sign, protect, serialize
from idp.saml.response import AssertionSpec, build_response
from idp.saml.xmlsig import Signer

CORE = 0
ECDSA = "assertion, ecdsa-sha256"  # signed=assertion by the EC P-256 key


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


def per_second(work: Callable[[], object], rounds: int) -> float:
    work()  # warm up
    start = time.perf_counter()
    for _ in range(rounds):
        work()
    return rounds / (time.perf_counter() - start)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """The service's log lines (one request line and one audit line a launch) go to /dev/null, as
    cheaply as to gunicorn's log file, instead of to a terminal that would slow them."""
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class Launcher:
    """A store of `size` apps and users and the WSGI app over it, with links minted ahead of time."""

    def __init__(self, root: Path, *, size: int, signed: str, algorithm: str | None = None) -> None:
        from bench.population import populate
        from idp.web import create_app

        folder = Path(tempfile.mkdtemp(prefix=f"{signed}-{size}-", dir=root))
        keyring.generate(folder / "keys", ecdsa=True)  # the RSA pair and the EC P-256 one beside it
        env = {"IDP_KEYS_DIR": str(folder / "keys"), "IDP_DATABASE": str(folder / "db"), "IDP_LINK_TTL": "3600"}
        self.population = populate(env, size=size, signed=signed, algorithm=algorithm)
        self.client = create_app(self.population.settings).test_client()
        self.prefix = len(self.population.settings.base_url)
        self.links: list[str] = []

    def mint(self, count: int) -> None:
        self.links = [url[self.prefix :] for url in self.population.fresh_links(count)]

    def launch(self) -> None:
        response = self.client.get(self.links.pop())
        assert response.status_code == 200 and b"SAMLResponse" in response.data

    def rate(self, rounds: int) -> float:
        self.mint(rounds + 1)
        return per_second(self.launch, rounds)


def xmlsec1_comparison(folder: Path, signer: Signer, rounds: int) -> None:
    from lxml import etree

    in_process = per_second(lambda: serialize(protect(build_response(spec()), Sign.BOTH, signer)), rounds)
    print(f"in-process build + sign (both signatures): {in_process:8.1f} responses/s")
    xmlsec1 = shutil.which("xmlsec1")
    if not xmlsec1:
        return
    template = build_response(spec()).root
    assertion = template.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    assert assertion is not None
    signer.sign(assertion)
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


def profile_launch(launcher: Launcher, rounds: int) -> None:
    """Where one launch's time goes: the service's own functions by time spent inside them
    (callees included), then every function by its own time."""
    launcher.mint(rounds)
    profiler = cProfile.Profile()

    def launches() -> None:
        for _ in range(rounds):
            launcher.launch()

    with quiet_stderr():
        profiler.runcall(launches)
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    print(f"\none launch, profiled ({rounds} launches, signed=assertion; cProfile's own overhead included)")
    print(f"  {total / rounds * 1e3:.3f} ms per launch under the profiler\n")
    rows = []
    for (filename, line, name), (_calls, ncalls, own, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((filename, line, name, ncalls, own, cumulative))
    root = str(Path(__file__).resolve().parents[1])
    print("  the service's functions, time inside each (callees included), per launch:")
    print(f"  {'ms':>7} {'share':>6} {'calls':>6}  function")
    ours = [row for row in rows if row[0].startswith(root + "/idp/")]
    for filename, line, name, ncalls, _own, cumulative in sorted(ours, key=lambda row: -row[5])[:40]:
        where = filename[len(root) + 1 :]
        share = cumulative / total
        print(f"  {cumulative / rounds * 1e3:7.3f} {share:6.1%} {ncalls / rounds:6.1f}  {where}:{line}({name})")
    print("\n  every function by its own time, per launch (top 30):")
    print(f"  {'ms':>7} {'share':>6} {'calls':>6}  function")
    for filename, line, name, ncalls, own, _cumulative in sorted(rows, key=lambda row: -row[4])[:30]:
        where = filename[len(root) + 1 :] if filename.startswith(root) else Path(filename).name
        label = name if filename == "~" else f"{where}:{line}({name})"
        print(f"  {own / rounds * 1e3:7.3f} {own / total:6.1%} {ncalls / rounds:6.1f}  {label}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.in_process", description=__doc__)
    parser.add_argument("--rounds", type=int, default=200, help="launches in each measured interval")
    parser.add_argument("--repeats", type=int, default=7, help="turns of sign rate and launches; medians printed")
    parser.add_argument("--sizes", default="", help="e.g. 10,100000: cost per launch at the largest size / smallest")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--xmlsec1", action="store_true", help="compare with an xmlsec1 subprocess per signature")
    args = parser.parse_args()
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {CORE})
    root = Path(tempfile.mkdtemp(prefix="idp-bench-in-process-"))
    try:
        if args.xmlsec1:
            keyring.generate(root / "keys")
            ring = keyring.KeyRing.load(root / "keys")
            xmlsec1_comparison(root, Signer(ring.signing_key_pem, ring.certificate_pem), args.rounds)

        launchers = {signed: Launcher(root, size=10, signed=signed) for signed in ("assertion", "both")}
        launchers[ECDSA] = Launcher(root, size=10, signed="assertion", algorithm="ecdsa-sha256")
        sizes = sorted(int(size) for size in args.sizes.split(",") if size)
        scaled = {size: Launcher(root, size=size, signed="assertion") for size in sizes}
        ratios: dict[str, list[float]] = {}
        with quiet_stderr():
            for _ in range(args.repeats):
                # Each interval of launches between two of signing: its ratio is to their mean.
                signs = rsa2048_signs_per_second(0.5)
                rates = {}
                for signed, launcher in launchers.items():
                    rates[signed] = launcher.rate(args.rounds)
                    after = rsa2048_signs_per_second(0.5)
                    ratios.setdefault(signed, []).append(rates[signed] / ((signs + after) / 2))
                    ratios.setdefault("signs", []).append(after)
                    signs = after
                ratios.setdefault("ecdsa/rsa", []).append(rates[ECDSA] / rates["assertion"])
                if sizes:
                    at_size = {size: launcher.rate(args.rounds) for size, launcher in scaled.items()}
                    ratios.setdefault("scale", []).append(at_size[sizes[0]] / at_size[sizes[-1]])

        def shown(values: list[float]) -> str:
            return f"{statistics.median(values):.3f}  (runs: {', '.join(f'{value:.3f}' for value in values)})"

        signs = statistics.median(ratios["signs"])
        print(f"RSA-2048 signatures per second, core {CORE}, median of {len(ratios['signs'])}: {signs:,.0f}")
        print("whole launches through the WSGI app (SQLite, 10 apps and users), launches / signatures:")
        for signed in launchers:
            print(f"  signed={signed:9}  {shown(ratios[signed])}   ~{statistics.median(ratios[signed]) * signs:,.0f}/s")
        print(f"ECDSA-SHA256 launch rate / RSA-SHA256 launch rate (signed=assertion): {shown(ratios['ecdsa/rsa'])}")
        if sizes:
            print(f"cost per launch at {sizes[-1]:,} apps and users / at {sizes[0]:,}: {shown(ratios['scale'])}")
        if args.profile:
            profile_launch(launchers["assertion"], args.rounds)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
