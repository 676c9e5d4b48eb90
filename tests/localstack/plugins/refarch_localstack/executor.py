"""A LocalStack Lambda runtime executor that runs a function as a local Python process.

LocalStack's own executor starts a Docker container per execution environment; this machine
has no Docker. This one starts `lambda_worker.py` under the interpreter the function would
have on AWS (mapped per runtime by `REFARCH_LAMBDA_INTERPRETERS`, a JSON object such as
`{"python3.13": "/path/to/python3.13"}`), with:

- the function's unzipped code as the task root, first on `sys.path` (as `/var/task` is);
- each layer's `python/` folders after it (as `/opt/python` is), so Powertools comes from the
  published layer and not from LocalStack's environment;
- the environment LocalStack computed for the function (credentials of its role, its
  variables, `AWS_ENDPOINT_URL` pointing back at LocalStack).

One long-lived worker per execution environment, as a warm Lambda sandbox; the function's
timeout is enforced here by ending the worker. Runtimes without an interpreter (the CDK's
Node.js provider functions) are created but answer every invoke with an error naming the
runtime: LocalStack's free edition never invokes them (custom resources are no-op fallbacks).
Selected with `LAMBDA_RUNTIME_EXECUTOR=local-process`.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from queue import Empty, Queue

from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor

LOG = logging.getLogger(__name__)
WORKER = Path(__file__).with_name("lambda_worker.py")
INTERPRETERS_VARIABLE = "REFARCH_LAMBDA_INTERPRETERS"
# Variables of LocalStack's own process that a function must not inherit.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "TMPDIR")


def interpreter_for(runtime: str | None) -> str | None:
    mapping = json.loads(os.environ.get(INTERPRETERS_VARIABLE) or "{}")
    return mapping.get(runtime or "")


def layer_paths(function_version: FunctionVersion) -> list[str]:
    """Where the Python runtime finds a layer's packages: /opt/python and its site-packages."""
    paths = []
    runtime = function_version.config.runtime or ""
    for layer in function_version.config.layers:
        root = Path(layer.code.get_unzipped_code_location())
        paths += [str(root / "python" / "lib" / runtime / "site-packages"), str(root / "python")]
    return paths


class LocalProcessRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id, function_version)
        self.process: subprocess.Popen | None = None
        self.replies: Queue = Queue()
        self.log_file = Path(tempfile.mkstemp(prefix=f"lambda-{id}-", suffix=".log")[1])
        self.log_offset = 0
        self.lock = threading.Lock()
        self.init_error: dict | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, env_vars: dict[str, str]) -> None:
        config = self.function_version.config
        python = interpreter_for(config.runtime)
        if python is None:
            self.init_error = {"errorType": "Runtime.Unsupported",
                               "errorMessage": f"runtime {config.runtime} has no local interpreter "
                                               f"(set {INTERPRETERS_VARIABLE})"}
            return
        task_root = str(config.code.get_unzipped_code_location())
        environment = {key: os.environ[key] for key in PASSED_THROUGH if key in os.environ}
        environment.update({key: str(value) for key, value in env_vars.items()})
        environment.update({
            "LAMBDA_TASK_ROOT": task_root,
            "PYTHONPATH": os.pathsep.join([task_root, *layer_paths(self.function_version)]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
        })
        with self.log_file.open("a") as log:  # the worker keeps its own descriptor
            self.process = subprocess.Popen(
                [python, "-u", str(WORKER)], cwd=task_root, env=environment, text=True,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        threading.Thread(target=self._read_replies, args=(self.process,), daemon=True).start()
        ready = self._next_reply(timeout=config.timeout)
        if ready is None or "error" in ready:
            self.init_error = (ready or {}).get("error") or {
                "errorType": "Runtime.InitError", "errorMessage": "the worker did not start"}

    def _read_replies(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.replies.put(json.loads(line))
        self.replies.put(None)  # the worker ended

    def _next_reply(self, timeout: float) -> dict | None:
        try:
            return self.replies.get(timeout=timeout)
        except Empty:
            return None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    # -- invocation -----------------------------------------------------------------------
    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload.get("invoke-id") or str(uuid.uuid4())
        with self.lock:
            if self.init_error is not None:
                return self._result(request_id, self.init_error, is_error=True)
            timeout = float(self.function_version.config.timeout)
            request = {"request_id": request_id, "function_arn": payload.get("invoked-function-arn"),
                       "payload": payload.get("payload"),
                       "deadline_ms": int((time.time() + timeout) * 1000)}
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            reply = self._next_reply(timeout=timeout)
            if reply is None:  # timed out or crashed: this sandbox is finished
                self.stop()
                self.init_error = {"errorType": "Sandbox.Timedout",
                                   "errorMessage": f"Task timed out after {timeout:.2f} seconds"}
                return self._result(request_id, self.init_error, is_error=True)
            if "error" in reply:
                return self._result(request_id, reply["error"], is_error=True)
            return self._result(request_id, reply["result"], is_error=False)

    def _result(self, request_id: str, body, *, is_error: bool) -> InvocationResult:
        return InvocationResult(request_id=request_id, payload=json.dumps(body).encode(),
                                is_error=is_error, logs=self._new_logs())

    def _new_logs(self) -> str:
        with self.log_file.open("rb") as logs:
            logs.seek(self.log_offset)
            chunk = logs.read()
        self.log_offset += len(chunk)
        return chunk.decode("utf-8", "replace")

    # -- what LocalStack asks of every executor --------------------------------------------
    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"  # the worker runs on this host, beside LocalStack's gateway

    def get_runtime_endpoint(self) -> str:
        return f"http://127.0.0.1/_localstack_lambda/{self.id}"  # no callback server is used

    def get_logs(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        # Unzip the function and its layers once per version, as the Docker executor does.
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()
        for layer in function_version.config.layers:
            layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass  # LocalStack removes the unzipped code with the version


class LocalProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "local-process"

    def load(self, *args, **kwargs):
        return LocalProcessRuntimeExecutor
