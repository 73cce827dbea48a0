"""Resolve the local stack's server artifacts from Maven Central with the small Maven projects in compose/local/.

Maven's local repository (~/.m2) caches the jars, so only the first `stack up` on a machine downloads.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from logjet.errors import StackError

__all__ = ["compose_local_dir", "pom_property", "run_maven"]


def compose_local_dir() -> Path:
    """compose/local/ of the logjet checkout this package runs from (or of the working directory)."""
    candidates = [Path(__file__).resolve().parents[2] / "compose" / "local", Path.cwd() / "compose" / "local"]
    for cand in candidates:
        if (cand / "kafka" / "pom.xml").is_file() and (cand / "elasticsearch" / "pom.xml").is_file():
            return cand
    raise StackError(
        "cannot find compose/local/{kafka,elasticsearch}/pom.xml: run `logjet stack` from a logjet checkout "
        f"(looked in {', '.join(str(c) for c in candidates)})"
    )


def pom_property(pom: Path, name: str) -> str:
    match = re.search(rf"<{re.escape(name)}>([^<]+)</{re.escape(name)}>", pom.read_text(encoding="utf-8"))
    if not match:
        raise StackError(f"{pom} has no <{name}> property")
    return match.group(1).strip()


def run_maven(maven: str, pom: Path, goal: str, props: dict[str, str], log: Path) -> None:
    exe = shutil.which(maven)
    if exe is None:
        raise StackError(f"Maven ({maven!r}) is not on PATH; it resolves Kafka and Elasticsearch from Maven Central")
    cmd = [exe, "-B", "-q", "-f", str(pom), goal, *(f"-D{k}={v}" for k, v in props.items())]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        fh.write(f"$ {' '.join(cmd)}\n".encode())
        fh.flush()
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False).returncode
    if rc != 0:
        from logjet.stack.process import tail

        raise StackError(f"Maven failed ({rc}) resolving {pom.parent.name}; the end of {log}:\n{tail(log)}")
