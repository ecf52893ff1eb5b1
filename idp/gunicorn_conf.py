"""The gunicorn settings the service always runs with. The Procfile's `web:` line loads this module
(`-c python:idp.gunicorn_conf`) and passes itself what an operator tunes: bind, workers, threads."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

# A pool of threads in each worker (`--threads`, WEB_THREADS): a client that sends its request slowly
# holds one thread, not a whole worker, so a few slow clients cannot stop a small deployment from
# answering everyone else. The limit is workers x threads such clients at once; a buffering reverse
# proxy in front is what shields against many.
worker_class = "gthread"

# Launch links, SAML messages, codes and tokens are taken out of every access and error log line.
logger_class = "idp.gunicorn_logging.RedactingLogger"

# No control socket (gunicorn 25.1 and later open one by default). Its path is fixed per user, so every
# gunicorn the user runs claims the same socket, and the service is managed by signals alone.
control_socket_disable = True

# The JSON request line the service writes (idp.web.instrumentation) is the access log. gunicorn's own
# access log, in its plain format and redacted as the error log is, is there on demand: IDP_ACCESS_LOG.
accesslog = "-" if os.environ.get("IDP_ACCESS_LOG", "").lower() in ("1", "true", "yes", "on") else None

_created_metrics_dir: str | None = None


def on_starting(server: object) -> None:
    """Every worker counts into one folder of prometheus-client's multiprocess mode, which /metrics adds up.

    The folder is PROMETHEUS_MULTIPROC_DIR when the operator names one (emptied now: values left by an
    earlier run would be counted again), else a private folder made for this run and removed at exit.
    Set here, in the arbiter, before any worker is forked and before prometheus-client is imported.
    """
    global _created_metrics_dir
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.unlink(os.path.join(folder, name))
    else:
        folder = _created_metrics_dir = tempfile.mkdtemp(prefix="idp-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


def child_exit(server: object, worker: Any) -> None:
    """A worker is gone: its counters stay counted; its live gauges are dropped."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: object) -> None:
    if _created_metrics_dir:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)
