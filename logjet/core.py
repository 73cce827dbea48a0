"""Which implementation does the per-entry work: the compiled core (``LOGJET_CORE=native``, the default:
``logjet._core``, built from ``native/``) or the Python reference (``LOGJET_CORE=python``). Read once, at import, by
every component that has both (the processor's parsers and transform, the syslog listeners).
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["load_core"]


def load_core() -> tuple[str, ModuleType | None]:
    """``(choice, the compiled module or None)``; a wrong value or an unbuilt core fails at start-up, not later."""
    choice = os.environ.get("LOGJET_CORE", "native")
    if choice == "python":
        return choice, None
    if choice != "native":
        raise ValueError(f"LOGJET_CORE must be 'native' or 'python', not {choice!r}")
    try:
        from logjet import _core
    except ImportError as exc:  # a checkout whose extension was never built (no cargo at install time)
        raise ImportError("logjet's compiled core is not built: reinstall with cargo on the PATH "
                          "(pip install -e .), or set LOGJET_CORE=python to use the Python path") from exc
    return choice, _core
