"""The core the syslog listeners run on, chosen once at import as the processor chooses its own.

The compiled core (``logjet._core``, built from ``native/``) frames TCP streams (``Framer``) and turns a drained batch
into wire records in one call (``syslog_drain``: the RFC 3164/5424 parse, the entries, their split into records and
their encoding). ``LOGJET_CORE=python`` runs the Python reference instead (``framing.Framer``, ``logjet.formats.syslog``
and ``Output.ship``), which the compiled core is held to by tests/unit/test_syslog_core.py.
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["CORE", "native"]


def _load() -> tuple[str, ModuleType | None]:
    choice = os.environ.get("LOGJET_CORE", "native")
    if choice == "python":
        return choice, None
    if choice != "native":
        raise ValueError(f"LOGJET_CORE must be 'native' or 'python', not {choice!r}")
    try:
        from logjet import _core
    except ImportError as exc:  # a checkout whose extension was never built (no cargo at install time)
        raise ImportError("logjet's compiled core is not built: reinstall with cargo on the PATH "
                          "(pip install -e .), or set LOGJET_CORE=python to use the Python syslog path") from exc
    return choice, _core


CORE, native = _load()
