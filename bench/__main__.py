"""`python -m bench`: the RSA-2048 sign rate, whole launches over HTTP, memory, and the cost at scale, in one run.

The service (the Procfile's gunicorn, one worker) runs on core 0 and wrk on core 1; every request
opens a fresh single-use link and must get a 200 auto-post page; signed = assertion and both by
the RSA key, and signed = assertion by the EC P-256 key (`ecdsa-sha256`).  Figures are printed with their
ratios to the sign rate measured on the same core, which stay meaningful on a noisy machine.
Beside the launches, the request cycle alone: the same gunicorn serving a bare WSGI app, a bare Flask
view, and the service's lightest route, each in RSA signatures' worth of the worker's CPU a request.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.load import Run, wrk
from bench.population import Population, populate
from bench.service import Service, gunicorn, redis_server, service_env
from bench.signing import rsa2048_signs_per_second
from idp import keyring

SERVICE_CORE, LOAD_CORE = 0, 1
LINKS_PER_SECOND = 4000  # more links than any run can use up: a reused link would fail the run
REQUESTS_PER_SECOND = 20_000  # the same for a route that does next to nothing
MEMORY_AFTER = 10_000
PACING_TRIES = 4  # runs to bring the paced rate within 5% of 80% of the peak
ECDSA = "assertion, ecdsa-sha256"
CASES = (("assertion", "assertion", None), ("both", "both", None), (ECDSA, "assertion", "ecdsa-sha256"))


@contextlib.contextmanager
def deployed(
    root: Path, *, size: int, signed: str, backend: str, algorithm: str | None = None
) -> Iterator[tuple[Service, Population, Path]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{backend}-{size}-{signed}-", dir=root))
    keyring.generate(workdir / "keys", ecdsa=True)  # the RSA pair and the EC P-256 one beside it
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(redis_server(workdir / "redis", core=LOAD_CORE)) if backend == "redis" else None
        env = service_env(workdir, redis_url=redis_url)
        population = populate(env, size=size, signed=signed, algorithm=algorithm)
        service = stack.enter_context(gunicorn(env, workdir / "gunicorn.log", core=SERVICE_CORE))
        yield service, population, workdir


def run(service: Service, population: Population, workdir: Path, seconds: int, rate: float | None = None) -> Run:
    per_second = LINKS_PER_SECOND if rate is None else 1.5 * rate
    links = population.fresh_links(int(per_second * seconds) + 100)
    return wrk(service.base_url, links, workdir, seconds=seconds, core=LOAD_CORE, rate=rate).check()


def signs_now() -> float:
    """The sign rate on the service's core just now (the service idle): the machine may be shared."""
    os.sched_setaffinity(0, {SERVICE_CORE})
    try:
        return rsa2048_signs_per_second(1.0)
    finally:
        os.sched_setaffinity(0, {LOAD_CORE})


@dataclass(frozen=True)
class Peak:
    run: Run
    cpu_per_request: float  # seconds of the worker's CPU


def at_peak(service: Service, measure: Callable[[], Run]) -> Peak:
    cpu = service.worker_cpu_seconds()
    run = measure().check()
    return Peak(run, (service.worker_cpu_seconds() - cpu) / run.requests)


def peak_and_latency(service: Service, population: Population, workdir: Path, seconds: int) -> tuple[Peak, Run, int]:
    launched = run(service, population, workdir, 2).requests  # warm-up
    peak = at_peak(service, lambda: run(service, population, workdir, seconds))
    paced, tried = paced_run(service, population, workdir, seconds, 0.8 * peak.run.rate)
    return peak, paced, launched + peak.run.requests + tried


def paced_run(service: Service, population: Population, workdir: Path, seconds: int, target: float) -> tuple[Run, int]:
    """A run at `target` launches a second, within 5% when PACING_TRIES runs get there; and the
    launches all of them made. wrk paces each connection by a delay on top of each answer's latency,
    and the latency grows with the rate, so each try corrects the rate asked by what the last reached."""
    asked, launched = target, 0
    for _ in range(PACING_TRIES):
        paced = run(service, population, workdir, seconds, rate=asked)
        launched += paced.requests
        if abs(paced.rate / target - 1) <= 0.05:
            break
        asked *= target / paced.rate
    return paced, launched


def request_cycle(root: Path, seconds: int) -> dict[str, Peak]:
    """The peak rate, and the worker's CPU a request, of the request cycle with no launch in it, each
    under the Procfile's gunicorn: a bare WSGI app (gunicorn alone), a bare Flask view (gunicorn and
    Flask), and the service's /healthz (gunicorn, Flask, and the telemetry and headers every answer of
    the service gets)."""
    peaks: dict[str, Peak] = {}
    for label, app, path, expect in (
        ("bare WSGI app", "bench.bare_wsgi:app", "/", "bare"),
        ("bare Flask view", "bench.bare_wsgi:flask_app", "/", "bare"),
        ("the service's /healthz", "idp.wsgi:app", "/healthz", '"ok"'),
    ):
        workdir = Path(tempfile.mkdtemp(prefix="request-cycle-", dir=root))
        keyring.generate(workdir / "keys")
        with gunicorn(service_env(workdir, redis_url=None), workdir / "gunicorn.log", core=SERVICE_CORE, app=app) as (
            service
        ):
            paths = [path] * (REQUESTS_PER_SECOND * seconds)
            wrk(service.base_url, paths, workdir, seconds=2, core=LOAD_CORE, expect=expect).check()  # warm-up
            measure = functools.partial(
                wrk, service.base_url, paths, workdir, seconds=seconds, core=LOAD_CORE, expect=expect
            )
            peaks[label] = at_peak(service, measure)
    return peaks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run")
    parser.add_argument("--sizes", default="10,1000,100000", help="apps and users in the store, for the scale runs")
    parser.add_argument("--backends", default="sqlite,redis", help="empty: no runs at scale")
    args = parser.parse_args(argv)
    for tool in ("wrk", "taskset", "redis-server"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is needed (Debian: apt install wrk util-linux redis-server)", file=sys.stderr)
            return 2
    sizes = [int(size) for size in args.sizes.split(",")]

    os.sched_setaffinity(0, {SERVICE_CORE})
    signs = rsa2048_signs_per_second()
    os.sched_setaffinity(0, {LOAD_CORE})  # this process only waits from now on: keep it off the service's core
    print(f"RSA-2048 signatures per second, core {SERVICE_CORE}: {signs:,.0f}")

    with tempfile.TemporaryDirectory(prefix="idp-bench-") as folder:
        root = Path(folder)
        print("\nwhole launches over HTTP (one worker, SQLite, 10 apps and users, fresh links)")
        peaks: dict[str, Peak] = {}
        for label, signed, algorithm in CASES:
            with deployed(root, size=10, signed=signed, backend="sqlite", algorithm=algorithm) as (
                service,
                population,
                workdir,
            ):
                before = signs_now()
                peak, paced, launched = peak_and_latency(service, population, workdir, args.seconds)
                near = (before + signs_now()) / 2  # the sign rate around this run, on the same core
                peaks[label], rate = peak, peak.run.rate
                print(
                    f"  signed={label:9}  peak {rate:7,.0f}/s   launches/signatures {rate / signs:.3f}"
                    f" (against {near:,.0f}/s measured around this run: {rate / near:.3f})"
                    f"   at {paced.rate:,.0f}/s ({paced.rate / rate:.0%} of peak):"
                    f" p50 {paced.p50_ms:.1f} ms, p99 {paced.p99_ms:.1f} ms"
                )
                print(
                    f"  {'':16} the worker's CPU a launch: {peak.cpu_per_request * 1e6:,.0f} µs,"
                    f" {peak.cpu_per_request * near:.2f} signatures' worth"
                )
                if label == "assertion":
                    while launched < MEMORY_AFTER:
                        launched += run(service, population, workdir, 3).requests
                    print(f"  worker memory after {launched:,} launches: {service.worker_rss_mb():.0f} MB")

        print(
            f"  ECDSA-SHA256 launch rate / RSA-SHA256 launch rate (signed=assertion, peaks):"
            f" {peaks[ECDSA].run.rate / peaks['assertion'].run.rate:.2f}"
        )

        # What 0.35 launches a signature would leave: 1 / 0.35 = 2.86 signatures' worth for the whole launch,
        # the request cycle included.
        print("\nthe request cycle alone, at its peak (one worker on core 0; the worker's CPU a request)")
        before = signs_now()
        cycle = request_cycle(root, args.seconds)
        near = (before + signs_now()) / 2
        for label, peak in cycle.items():
            print(
                f"  {label:24} {peak.run.rate:7,.0f}/s   {peak.cpu_per_request * 1e6:5,.0f} µs,"
                f" {peak.cpu_per_request * near:.2f} signatures' worth"
            )
        print("  (launches/signatures of 0.35 leave a whole launch 2.86 signatures' worth)")

        print("\nthe same launch with more apps and users in the store (signed=assertion)")
        for backend in [name for name in args.backends.split(",") if name]:
            rates = {}
            for size in sizes:
                with deployed(root, size=size, signed="assertion", backend=backend) as (service, population, workdir):
                    run(service, population, workdir, 2)  # warm-up
                    rates[size] = run(service, population, workdir, args.seconds).rate
                print(f"  {backend:6} {size:>7,} apps and users: {rates[size]:7,.0f}/s")
            smallest, largest = min(sizes), max(sizes)
            print(f"  {backend:6} cost at {largest:,} / cost at {smallest:,}: {rates[smallest] / rates[largest]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
