"""`python -m taskkit`: run the embedded stack, one worker, or the sweep."""

from __future__ import annotations

import argparse
import json
import os
import sys

from taskkit import dead_letters
from taskkit.errors import ConfigError
from taskkit.logging import configure_logging
from taskkit.settings import Settings
from taskkit.supervisor import Supervisor, load_kit, project_config


def _app_ref(args: argparse.Namespace) -> str:
    ref = args.app or project_config().get("app")
    if not ref:
        raise ConfigError("name the application's Kit with --app package.module:kit or [tool.taskkit] app in pyproject")
    return str(ref)


def cmd_run(args: argparse.Namespace) -> int:
    # Signed URLs must point at this stack's address unless one was configured (behind a proxy, say).
    os.environ.setdefault("TASKKIT_PUBLIC_URL", f"http://{args.host}:{args.port}")
    settings = Settings.from_env()
    web = args.web if args.web is not None else project_config().get("web")
    supervisor = Supervisor(
        _app_ref(args), settings=settings, workers=args.workers, host=args.host, port=args.port, web_ref=web or None
    )
    signum = supervisor.run()
    # Stopped by a signal: the shell convention 128 + signal number (the workers are stopped by now).
    return 128 + signum if signum is not None else 0


def cmd_worker(args: argparse.Namespace) -> int:
    from taskkit.lifecycle import supervisor_pid_from
    from taskkit.worker import serve_worker

    kit = load_kit(_app_ref(args))
    # Set by the embedded stack's supervisor: the worker exits when that process is gone.
    serve_worker(kit, host=args.host, port=args.port, supervisor_pid=supervisor_pid_from(os.environ))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from taskkit.sweep import run_sweep

    report = run_sweep(load_kit(_app_ref(args)))
    print(json.dumps(report.as_dict(), indent=2))
    return 1 if report.errors else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m taskkit",
        description="taskkit: tasks over Pub/Sub push. Settings come from TASKKIT_* environment variables "
        "(TASKKIT_BACKEND=local|gcp, TASKKIT_DATA_DIR, TASKKIT_PROJECT, ...).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="start the embedded stack (dispatcher, web app, N workers) on the local backend family",
        description="Start the whole stack on one machine: a supervising process with the local push "
        "dispatcher and the web app on --port, and --workers worker processes on loopback ports.",
    )
    run.add_argument("--app", help="the Kit, as package.module:attribute (default: [tool.taskkit] app)")
    run.add_argument("--web", help="web app factory package.module:function (default: [tool.taskkit] web)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--workers", type=int, default=1, help="worker processes (each takes one task at a time)")
    run.set_defaults(fn=cmd_run)

    worker = sub.add_parser(
        "worker",
        help="serve one worker: the push, dead-letter and sweep endpoints (what Cloud Run runs)",
        description="Serve POST /_taskkit/push, /_taskkit/dead-letter, /_taskkit/sweep and GET /healthz. "
        "Refuses to start when a task's time limit does not fit the ack deadline.",
    )
    worker.add_argument("--app", help="the Kit, as package.module:attribute")
    worker.add_argument("--host", default="127.0.0.1")
    worker.add_argument("--port", type=int, default=8080)
    worker.set_defaults(fn=cmd_worker)

    sweep = sub.add_parser(
        "sweep",
        help="reconcile stranded work once: fire complete chords, run the app's reconcilers",
        description="Fire chord callbacks whose members all finished and run every @kit.reconciler.",
    )
    sweep.add_argument("--app", help="the Kit, as package.module:attribute")
    sweep.set_defaults(fn=cmd_sweep)
    dead_letters.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        return int(args.fn(args))
    except ConfigError as e:
        print(f"taskkit: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
