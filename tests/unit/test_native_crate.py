"""The compiled core's own tests (``cargo test`` in native/: unit tests and proptests) run with the unit suite, so
CI runs them.

Built without the ``extension-module`` feature, the test binary links libpython: ``PYO3_PYTHON`` names the
interpreter running these tests, whose library it links. The tests build in their own target directory
(native/target/cargo-test) so they never touch the build the install made. The first build compiles the crate and
its dependencies (minutes on two cores); later runs reuse it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

NATIVE = Path(__file__).resolve().parents[2] / "native"


def test_cargo_test_of_the_crate_passes_and_runs_tests() -> None:
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    assert os.path.exists(cargo), "cargo is needed to build logjet's compiled core (see the README)"
    env = {**os.environ, "PYO3_PYTHON": sys.executable, "CARGO_TARGET_DIR": str(NATIVE / "target" / "cargo-test"),
           "CARGO_TERM_COLOR": "never",
           # The JSON tests read nests of 1,024 levels, as orjson does; unoptimised frames are several times the size
           # of the release build's, more than a test thread's default 2 MiB holds.
           "RUST_MIN_STACK": str(64 << 20)}
    t0 = time.monotonic()
    run = subprocess.run([cargo, "test"], cwd=NATIVE, env=env, capture_output=True, text=True, timeout=1800,
                         check=False)
    took = time.monotonic() - t0
    out = run.stdout + run.stderr
    assert run.returncode == 0, f"cargo test failed after {took:.0f} s:\n{out[-6000:]}"
    results = re.findall(r"^test result: (\w+)\. (\d+) passed; (\d+) failed", out, re.M)
    assert results and all(status == "ok" and failed == "0" for status, _, failed in results), out[-6000:]
    passed = sum(int(n) for _, n, _ in results)
    assert passed > 0, f"cargo test ran no test:\n{out[-3000:]}"
    print(f"cargo test: {passed} passed in {took:.0f} s")
