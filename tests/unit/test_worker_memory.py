"""A worker keeps the memory a batch frees for the next batch (``processor.transform.keep_freed_memory``): measured
as the process's resident memory before and after freeing a batch's worth of document bodies, in a fresh
interpreter each time (the setting is the process's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# 64 MB of 2 kB bodies (each above Python's small-object size, so from the C library's heap), freed at once as a
# batch's are: how much of it the process gives back to the system, in MB.
SCRIPT = """
import os, sys
from processor.transform import keep_freed_memory
if sys.argv[1] == "keep" and not keep_freed_memory():
    print("unsupported")
    raise SystemExit
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
bodies = [b"x" * 2000 + i.to_bytes(4, "little") for i in range(32_000)]
before = rss()
del bodies
print((before - rss()) / 1e6)
"""


def given_back_mb(mode: str) -> float | None:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60).stdout.strip()
    return None if out == "unsupported" else float(out)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="resident memory is read from /proc")
def test_a_freed_batch_stays_with_the_worker_for_the_next() -> None:
    kept = given_back_mb("keep")
    if kept is None:
        pytest.skip("the C library has no mallopt (not glibc)")
    default = given_back_mb("default")
    assert default > 32, f"the C library's default gave back only {default:.1f} MB: the measurement shows nothing"
    assert kept < 8, f"{kept:.1f} MB of a freed batch given back to the system, to be faulted in again"
