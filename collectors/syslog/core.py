"""The core the syslog listeners run on, chosen once at import as the processor chooses its own.

The compiled core (``logjet._core``, built from ``native/``) frames TCP streams (``Framer``) and turns a drained batch
into wire records in one call (``syslog_drain``: the RFC 3164/5424 parse, the entries, their split into records and
their encoding). ``LOGJET_CORE=python`` runs the Python reference instead (``framing.Framer``, ``logjet.formats.syslog``
and ``Output.ship``), which the compiled core is held to by tests/unit/test_syslog_core.py.
"""

from __future__ import annotations

from logjet.core import load_core

__all__ = ["CORE", "native"]

CORE, native = load_core()
