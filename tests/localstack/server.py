"""Start and stop a private LocalStack for the deploy tests: host mode, loopback, its own folder.

LocalStack runs from its own virtual environment (`make localstack`, see the Makefile) with the
plugins in `tests/localstack/plugins`. Each start gets a free loopback port and a fresh state
folder; the process id is kept, and `stop()` ends the whole process group, so nothing outlives
the test session (also on failure or interrupt: the fixture calls `stop()` in a `finally`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from refarch.paths import PROJECT_ROOT

LOCALSTACK_HOME = PROJECT_ROOT / ".localstack"
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
LOCALSTACK_PYTHON = LOCALSTACK_HOME / "venv" / "bin" / "python"
# The interpreter each Lambda runtime gets (with the runtime's boto3, as on AWS).
FUNCTION_INTERPRETERS = {"python3.13": LOCALSTACK_HOME / "lambda-python3.13" / "bin" / "python"}
READY_TIMEOUT_SECONDS = 90


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def node_tools(state_dir: Path) -> Path:
    """A folder with only the venv's node and npm (LocalStack installs kinesis-local with npm);
    the venv's bin folder itself would also put its Python first on the PATH."""
    tools = state_dir / "node-tools"
    tools.mkdir(exist_ok=True)
    for name in ("node", "npm", "npx"):
        link = tools / name
        if not link.exists():
            link.symlink_to(VENV_BIN / name)
    return tools


def localstack_environment(port: int, state_dir: Path) -> dict[str, str]:
    """The settings of a LocalStack without Docker (see ../shared/LOCALSTACK.md for why)."""
    # The caller's environment (certificates, proxies, npm settings) without its AWS identity.
    inherited = {key: value for key, value in os.environ.items()
                 if not key.startswith(("AWS_", "LOCALSTACK_")) or key == "AWS_CA_BUNDLE"}
    return {
        **inherited,
        "PATH": f"{node_tools(state_dir)}{os.pathsep}{os.environ.get('PATH', '')}",
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "LOCALSTACK_HOST": f"localhost:{port}",
        "FILESYSTEM_ROOT": str(state_dir),
        "TMPDIR": str(state_dir / "tmp"),
        "PERSISTENCE": "0",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DNS_ADDRESS": "0",
        # Glue, Athena, IoT, Flink, CloudTrail, custom resources: accepted, not created
        "CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES": "1",
        "PROVIDER_OVERRIDE_DYNAMODB": "moto",
        "PROVIDER_OVERRIDE_OPENSEARCH": "moto",
        "LAMBDA_RUNTIME_EXECUTOR": "local-process",
        "REFARCH_LAMBDA_INTERPRETERS": json.dumps({k: str(v) for k, v in FUNCTION_INTERPRETERS.items()}),
    }


@dataclass
class LocalStackServer:
    port: int
    state_dir: Path
    process: subprocess.Popen
    log_path: Path
    pid: int = field(init=False)

    def __post_init__(self) -> None:
        self.pid = self.process.pid

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_localstack/health", timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """End LocalStack and everything it started (kinesis-local, function workers)."""
        if self.running():
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)  # whatever ignored SIGTERM in the group
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)


def require_installation() -> None:
    missing = [str(p) for p in (LOCALSTACK_PYTHON, *FUNCTION_INTERPRETERS.values()) if not p.exists()]
    if missing:
        raise RuntimeError(f"LocalStack is not installed ({', '.join(missing)} missing): run `make localstack`")


def start_localstack(extra_environment: dict[str, str] | None = None) -> LocalStackServer:
    """A fresh LocalStack on a free loopback port, ready to serve (`extra_environment` adds or
    overrides LocalStack settings)."""
    require_installation()
    port = free_loopback_port()
    state_dir = Path(tempfile.mkdtemp(prefix="refarch-localstack-"))
    (state_dir / "tmp").mkdir()
    log_path = state_dir / "localstack.log"
    process = subprocess.Popen(
        [str(LOCALSTACK_PYTHON), "-m", "localstack.runtime.main"], cwd=state_dir,
        env={**localstack_environment(port, state_dir), **(extra_environment or {})}, stdin=subprocess.DEVNULL,
        stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    server = LocalStackServer(port=port, state_dir=state_dir, process=process, log_path=log_path)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not server.running():
            raise RuntimeError(f"LocalStack exited at start (code {process.returncode}):\n{server.log()[-3000:]}")
        if "Ready." in server.log() and server.health():
            return server
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"LocalStack was not ready in {READY_TIMEOUT_SECONDS} s:\n{server.log()[-3000:]}")
