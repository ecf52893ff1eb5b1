"""The WSGI entry point gunicorn loads: `gunicorn idp.wsgi:app`."""

from __future__ import annotations

import sys

from idp.errors import ConfigurationError
from idp.web import create_app

try:
    app = create_app()
except ConfigurationError as error:
    print(f"idp: cannot start: {error.message}", file=sys.stderr)
    raise SystemExit(1) from None
