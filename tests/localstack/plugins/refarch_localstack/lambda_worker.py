"""Runs one Lambda function's handler in this process, for the local-process executor.

Started by `executor.py` with the interpreter the function would have on AWS, the function's
unzipped code as the working folder and first on `sys.path`, its layers after it, and the
function's whole Lambda environment. Standard library only: it must import in any Python.

Protocol (one JSON object per line): this process writes `{"ready": true}` once the handler
module is imported (or `{"error": ...}` if it cannot be), then answers each request
`{"request_id", "function_arn", "payload", "deadline_ms"}` from stdin with `{"result": <json>}`
or `{"error": {"errorMessage", "errorType", "stackTrace"}}`. The handler's own prints go to
stderr, so they can never corrupt a reply.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback


def _protocol_channel():
    """Keep the real stdout for replies; point fd 1 (and `print`) at stderr."""
    replies = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return replies


class LambdaContext:
    """The attributes of the context object the Python runtime passes to a handler."""

    def __init__(self, request_id: str, function_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error: BaseException) -> dict:
    return {"errorMessage": str(error), "errorType": type(error).__name__,
            "stackTrace": traceback.format_exception(error)}


def _load_handler(spec: str):
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {spec!r}: expected <module>.<function>")
    return getattr(importlib.import_module(module_name.replace("/", ".")), function_name)


def main() -> None:
    replies = _protocol_channel()
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except Exception as error:  # an import failure is the function's init error
        replies.write(json.dumps({"error": _error(error)}) + "\n")
        return
    replies.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(request["request_id"], request["function_arn"], request["deadline_ms"])
        try:
            result = handler(json.loads(request["payload"] or "null"), context)
            reply = {"result": result}
            encoded = json.dumps(reply)
        except Exception as error:
            encoded = json.dumps({"error": _error(error)})
            print(f"[ERROR] {encoded}", file=sys.stderr)  # as the runtime logs a handler's failure
        sys.stderr.flush()
        replies.write(encoded + "\n")


if __name__ == "__main__":
    main()
