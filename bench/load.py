"""Load from wrk on its own core: fresh links only, every answer checked, at full speed or paced."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("fresh_links.lua")
THREADS = 2
CONNECTIONS = 8


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    bad: int  # answers that were not a 200 auto-post page
    errors: int  # sockets that failed
    ran_out: int  # requests made after the links ran out (they reuse a link, so they count as bad too)
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def check(self) -> Run:
        if self.bad or self.errors or self.ran_out:
            raise RuntimeError(f"a run had failures: {self}")
        return self


def wrk(
    base_url: str,
    links: list[str],
    workdir: Path,
    *,
    seconds: int,
    core: int,
    rate: float | None = None,
    expect: str = "SAMLResponse",
) -> Run:
    """Open each link once, for `seconds`; `rate` None: as fast as the service answers. Every answer
    must be a 200 holding `expect` (a launch's auto-post page unless told otherwise)."""
    links_file = workdir / "links.txt"
    links_file.write_text("".join(link.removeprefix(base_url) + "\n" for link in links))
    # wrk sleeps this long before each request on a connection: about `rate` requests per second in all.
    pacing_ms = 0 if rate is None else int(CONNECTIONS * 1000 / rate)
    command = [
        "taskset",
        "-c",
        str(core),
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(SCRIPT),
        base_url,
        "--",
        str(links_file),
        str(pacing_ms),
        str(THREADS),
        expect,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    (line,) = [line for line in output.splitlines() if line.startswith("RESULT ")]
    return Run(**json.loads(line.removeprefix("RESULT ")))
