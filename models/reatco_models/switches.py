"""Switches that change how the modules trace, for the length of a `with` block (one export or test)."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator


class TraceSwitch:
    def __init__(self, name: str):
        self._on = contextvars.ContextVar(name, default=False)

    def active(self) -> bool:
        return self._on.get()

    @contextlib.contextmanager
    def on(self) -> Iterator[None]:
        token = self._on.set(True)
        try:
            yield
        finally:
            self._on.reset(token)
