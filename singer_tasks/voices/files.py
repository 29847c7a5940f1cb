"""The one reader of a voice's small config files (YAML or JSON mappings), torch-free.

Every failure is a VoiceConfigError naming what the file is, the file, and what is wrong with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from singer_tasks.errors import VoiceConfigError


def read_mapping(path: Path, what: str, *, hint: str = "") -> dict[str, Any]:
    """The mapping a `.json`, `.yaml` or `.yml` file holds; `what` names it in errors ("voice manifest")."""
    is_json = path.suffix.lower() == ".json"
    kind = "JSON" if is_json else "YAML"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise VoiceConfigError(f"{what} {path} does not exist{f' ({hint})' if hint else ''}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise VoiceConfigError(f"{what} {path} cannot be read: {e}") from e
    try:
        raw = json.loads(text) if is_json else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise VoiceConfigError(f"{what} {path} is not valid {kind}: {e}") from e
    if not isinstance(raw, dict):
        raise VoiceConfigError(f"{what} {path} is not a {kind} mapping")
    return raw
