"""Terraform's push settings against taskkit's own start-up check (docs/push-contract.md, "Timing checks at start").

The worker's environment is built from terraform's locals with the variables' defaults, read by
taskkit's real `Settings.from_env`, and checked by taskkit's real `Kit.check_timing` against
taskkit's default task options and, when it exists, the production app's registered tasks.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from taskkit.app import Kit
from taskkit.errors import ConfigError
from taskkit.settings import Settings
from taskkit.task import TaskOptions
from tests.infra.tfmodel import REPO, Terraform

WORKER_DOCKERFILE = REPO / "deploy" / "worker.Dockerfile"


def worker_environment(tf: Terraform) -> dict[str, str]:
    """The worker's env with terraform defaults; values known only after an apply get stand-ins."""
    env: dict[str, str] = {}
    for name, raw in tf.locals["worker_env"].items():
        value = str(tf.resolve(raw, given={"project_id": "example-project"}))
        if "${" in value:  # a resource attribute (an email, the project number)
            value = f"placeholder-for-{name.lower()}"
        env[name] = value
    return env


def terraform_settings(tf: Terraform) -> Settings:
    return Settings.from_env(worker_environment(tf))


def test_every_taskkit_variable_in_terraform_is_a_taskkit_setting(tf: Terraform) -> None:
    fields = {f"TASKKIT_{name.upper()}" for name in Settings.__dataclass_fields__}
    for env_name in ("api_env", "worker_env"):
        unknown = sorted(n for n in tf.locals[env_name] if n.startswith("TASKKIT_") and n not in fields)
        assert not unknown, f"{env_name} sets variables taskkit never reads: {unknown}"


def _variables_read() -> set[str]:
    """Environment names the code reads: literal names, and the <PREFIX>_<field> of settings classes."""
    source = "\n".join(
        p.read_text(encoding="utf-8")
        for folder in ("singer_tasks", "api", "taskkit")
        for p in (REPO / folder).rglob("*.py")
    )
    names = set(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", source))
    names |= {f"TASKKIT_{name.upper()}" for name in Settings.__dataclass_fields__}
    settings_module = importlib.import_module("singer_tasks.settings")
    names |= {f"SINGER_{name.upper()}" for name in settings_module.SingerSettings.model_fields}
    return names


def test_every_variable_terraform_sets_is_read_by_the_code(tf: Terraform) -> None:
    read = _variables_read()
    for env_name in ("api_env", "worker_env", "voices_env"):
        raw = tf.locals[env_name]
        names = re.findall(r"\b([A-Z][A-Z0-9_]+) =", raw) if isinstance(raw, str) else list(raw)
        assert names, env_name
        unknown = sorted(n for n in names if n not in read)
        assert not unknown, f"{env_name} sets variables no code reads: {unknown}"


def test_taskkit_reads_terraforms_push_settings(tf: Terraform) -> None:
    settings = terraform_settings(tf)
    assert settings.backend == "gcp"
    assert settings.ack_deadline_s == tf.default("ack_deadline_s")
    assert settings.max_delivery_attempts == tf.default("max_delivery_attempts")
    assert settings.min_backoff_s == tf.default("retry_min_backoff_s")
    assert settings.max_backoff_s == tf.default("retry_max_backoff_s")
    assert settings.default_topic == "render-jobs"
    assert settings.dead_letter_topic(settings.default_topic) == tf.resolve(
        tf.resource("google_pubsub_topic", "dead_letter")["name"]
    )


def test_default_task_options_fit_terraforms_subscription(tf: Terraform) -> None:
    kit = Kit("infra-check", settings=terraform_settings(tf))

    @kit.task(name="infra.default_options")
    def noop() -> None:
        """A task with taskkit's default options."""

    kit.check_timing()
    defaults = TaskOptions(name="x")
    assert tf.default("taskkit_max_attempts") == defaults.max_attempts
    assert tf.default("max_delivery_attempts") >= 2 * defaults.max_attempts


def test_a_shorter_ack_deadline_is_refused_by_taskkit(tf: Terraform) -> None:
    # The same check with a deadline the default time limit does not fit: proves the check bites.
    settings = terraform_settings(tf).with_changes(ack_deadline_s=int(TaskOptions(name="x").time_limit_s))
    kit = Kit("infra-check", settings=settings)

    @kit.task(name="infra.default_options")
    def noop() -> None:
        """A task with taskkit's default options."""

    with pytest.raises(ConfigError, match="ack deadline"):
        kit.check_timing()


def test_terraform_validates_delivery_attempts_against_max_attempts(tf: Terraform) -> None:
    conditions = [v["condition"] for v in tf.variables["max_delivery_attempts"]["validation"]]
    assert "${var.max_delivery_attempts >= 2 * var.taskkit_max_attempts}" in conditions
    ack = [v["condition"] for v in tf.variables["ack_deadline_s"]["validation"]]
    assert any("var.ack_deadline_s <= 600" in c for c in ack)


def _production_app() -> str:
    match = re.search(r"WORKER_APP=(\S+)", WORKER_DOCKERFILE.read_text(encoding="utf-8"))
    assert match, f"{WORKER_DOCKERFILE} must set WORKER_APP"
    return match.group(1)


def test_production_tasks_fit_terraforms_subscription(tf: Terraform) -> None:
    module_name, _, attribute = _production_app().partition(":")
    path = (REPO / Path(*module_name.split("."))).with_suffix(".py")
    assert path.is_file(), f"the worker image's WORKER_APP names {module_name}, which does not exist"
    app = getattr(importlib.import_module(module_name), attribute)
    assert isinstance(app, Kit) and app.registry, f"{_production_app()} registers no tasks"
    kit = Kit("infra-check", settings=terraform_settings(tf))
    kit.registry.update(app.registry)
    kit.check_timing()
