"""A backend's own outages become `StoreUnavailable`, the one error the layers above know.

Each backend says which of its exceptions mean "the store is not answering now" (a timeout, a
refused connection, a locked file); everything else is a bug and stays what it is.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from idp.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)


def outages_as_unavailable(is_outage: Callable[[Exception], bool]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A decorator for a backend's methods: an exception `is_outage` recognises is raised as StoreUnavailable."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except Exception as error:
                if is_outage(error):
                    # The caller only learns "try again"; the operator needs to know what failed.
                    log.warning("store unavailable in %s: %r", method.__qualname__, error)
                    raise StoreUnavailable() from error
                raise

        return guarded

    return decorate
