"""Workers that die at chosen crash points, for tests.

`python -m tests.taskkit.crashing_worker PORT MARKER once-before-answer`: while the MARKER file
exists, the first push answer is never sent: the process exits the moment the response would start,
after the task finished (the marker is removed first, so the restarted worker behaves).
`... PORT MARKER always-on-push`: the process exits on every push delivery, before doing anything
(dead-letter deliveries are served normally). An optional fourth argument names the Kit to serve.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

from taskkit.logging import configure_logging
from taskkit.supervisor import load_kit
from taskkit.worker import create_worker_app


def crash_before_answer(app: Any, marker: Path, always: bool) -> Any:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if always and scope.get("path") == "/_taskkit/push":
            os._exit(9)

        async def send_or_die(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and scope.get("path") == "/_taskkit/push" and marker.exists():
                marker.unlink()
                os._exit(9)
            await send(message)

        await app(scope, receive, send_or_die)

    return wrapped


if __name__ == "__main__":
    configure_logging()
    port, marker, mode = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    kit = load_kit(sys.argv[4] if len(sys.argv) > 4 else "tests.taskkit.apps:kit")
    app = crash_before_answer(create_worker_app(kit), marker, always=mode == "always-on-push")
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None)
