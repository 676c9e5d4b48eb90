"""The Kinesis SQL connector jar for the Flink applications: fetch, verify, check before deploy.

The jar is published on Maven Central only (not PyPI or npm), so `make flink-deps` asks
Maven for the pinned coordinates; Maven checks the repository's SHA-1 (strict), and this
module then checks the file's SHA-256 against the pin in jobs/flink/connector.lock. When
the lock holds no SHA-256 yet, the first verified download records it, and the lock
should be committed so every later fetch must match it byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from refarch.paths import FLINK_CONNECTOR_JAR, JOBS_ROOT

LOCK_FILE = JOBS_ROOT / "flink" / "connector.lock"


class ConnectorError(RuntimeError):
    """The connector jar is missing, or is not the pinned one."""


def lock() -> dict[str, str]:
    return json.loads(LOCK_FILE.read_text())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as jar:
        for block in iter(lambda: jar.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(jar: Path, expected_sha256: str) -> str:
    """The jar's SHA-256, if it matches `expected_sha256` (empty: nothing pinned yet)."""
    if not jar.is_file():
        raise ConnectorError(f"{jar} is missing: run `make flink-deps`")
    actual = sha256_of(jar)
    if expected_sha256 and actual != expected_sha256:
        raise ConnectorError(f"{jar.name} has SHA-256 {actual}, but {LOCK_FILE.name} pins {expected_sha256}")
    return actual


def fetch(target: Path = FLINK_CONNECTOR_JAR) -> Path:
    """Download the pinned artifact with Maven into `target`'s folder and verify it."""
    pinned = lock()
    if not shutil.which("mvn"):
        raise ConnectorError("Maven (`mvn`) is needed to fetch the connector: apt-get install maven")
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mvn", "--batch-mode", "--quiet", "--strict-checksums", "dependency:copy",
                    f"-Dartifact={pinned['group']}:{pinned['artifact']}:{pinned['version']}:jar",
                    f"-DoutputDirectory={target.parent}"], check=True)
    actual = verify(target, pinned.get("sha256", ""))
    if not pinned.get("sha256"):
        LOCK_FILE.write_text(json.dumps({**pinned, "sha256": actual}, indent=2) + "\n")
        print(f"recorded SHA-256 {actual} in {LOCK_FILE}: commit it to pin this exact jar")
    return target


def main() -> int:
    try:
        path = fetch()
    except (ConnectorError, subprocess.CalledProcessError) as error:
        print(f"refarch: {error}", file=sys.stderr)
        return 2
    print(f"connector ready: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def applications_missing_the_connector(stacks) -> list[str]:
    """The Flink applications in `stacks` whose zip would not carry the pinned jar: each
    one's path, and why when the jar is there but is not the one connector.lock pins (its
    SHA-256 differs, or the lock pins none yet). `refarch deploy` refuses to ship them."""
    from refarch.constructs.flink_application import FlinkSqlApplication

    found = []
    for stack in stacks:
        for construct in stack.node.find_all():
            if not isinstance(construct, FlinkSqlApplication):
                continue
            problem = None if construct.missing_connector else unpinned_jar(construct.connector_jar)
            if construct.missing_connector or problem:
                found.append(construct.node.path + (f" ({problem})" if problem else ""))
    return found


def unpinned_jar(jar: Path) -> str | None:
    """Why `jar` is not the pinned connector, or None when its SHA-256 is the lock's."""
    pinned = lock().get("sha256", "")
    if not pinned:
        return f"{LOCK_FILE.name} pins no SHA-256 yet, so {jar.name} cannot be verified"
    actual = sha256_of(jar)
    if actual != pinned:
        return f"its {jar.name} has SHA-256 {actual}, but {LOCK_FILE.name} pins {pinned}"
    return None
