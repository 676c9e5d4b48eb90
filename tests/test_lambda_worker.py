"""The worker the LocalStack executor runs each function in: its protocol, the context it hands
the handler, and that a handler's prints can never corrupt a reply."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

WORKER = Path(__file__).parent / "localstack" / "plugins" / "refarch_localstack" / "lambda_worker.py"

HANDLER = '''
import os
print("noise on stdout")
def handler(event, context):
    print("more noise")
    if event.get("fail"):
        raise KeyError("recordId")
    return {"echo": event, "function": context.function_name, "request": context.aws_request_id,
            "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 30_000,
            "task_root": os.environ["LAMBDA_TASK_ROOT"]}
'''


def start_worker(code_dir: Path, handler: str) -> subprocess.Popen:
    environment = {"PATH": os.environ["PATH"], "_HANDLER": handler, "LAMBDA_TASK_ROOT": str(code_dir),
                   "PYTHONPATH": str(code_dir), "AWS_LAMBDA_FUNCTION_NAME": "fn"}
    return subprocess.Popen([sys.executable, "-u", str(WORKER)], cwd=code_dir, env=environment, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def ask(worker: subprocess.Popen, payload: dict, request_id: str) -> dict:
    worker.stdin.write(json.dumps({"request_id": request_id, "function_arn": "arn:fn", "payload": json.dumps(payload),
                                   "deadline_ms": int(time.time() * 1000) + 30_000}) + "\n")
    worker.stdin.flush()
    return json.loads(worker.stdout.readline())


def test_the_worker_answers_each_invoke_and_keeps_prints_off_the_reply_channel(tmp_path):
    (tmp_path / "app.py").write_text(HANDLER)
    worker = start_worker(tmp_path, "app.handler")
    try:
        assert json.loads(worker.stdout.readline()) == {"ready": True}
        reply = ask(worker, {"n": 1}, "req-1")
        assert reply == {"result": {"echo": {"n": 1}, "function": "fn", "request": "req-1",
                                    "remaining_ok": True, "task_root": str(tmp_path)}}
        failed = ask(worker, {"fail": True}, "req-2")
        assert failed["error"]["errorType"] == "KeyError" and failed["error"]["errorMessage"] == "'recordId'"
        assert ask(worker, {"n": 2}, "req-3")["result"]["echo"] == {"n": 2}  # still warm after an error
    finally:
        worker.stdin.close()
        worker.wait(timeout=10)
    logs = worker.stderr.read()
    assert "noise on stdout" in logs and logs.count("more noise") == 3
    assert '[ERROR] {"error": {"errorMessage": "\'recordId\'"' in logs


def test_a_handler_that_cannot_be_imported_is_an_init_error(tmp_path):
    worker = start_worker(tmp_path, "missing.handler")
    reply = json.loads(worker.stdout.readline())
    worker.wait(timeout=10)
    assert reply["error"]["errorType"] == "ModuleNotFoundError"
