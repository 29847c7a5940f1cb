"""character.txt and character.yaml: who the voicebank is, and that it is a DiffSinger one.

OpenUtau finds a voicebank by its character.txt (``key=value`` lines: name, image, author, web, version) and
reads character.yaml over it (singer_type, default_phonemizer, portrait, subbanks). A DiffSinger voicebank must say
``singer_type: diffsinger``; without it OpenUtau would load the folder as a classic UTAU bank.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from singer_tasks.errors import VoiceConfigError
from singer_tasks.voices.voicebank.config import CHARACTER_KEYS, parse_keys, read_yaml_mapping

CHARACTER_TXT = "character.txt"
CHARACTER_YAML = "character.yaml"


@dataclass(frozen=True)
class Subbank:
    """A voice colour: `color` is what the user picks, `suffix` names the speaker (a dsconfig `speakers` entry)."""

    color: str
    prefix: str
    suffix: str
    tone_ranges: tuple[str, ...]


@dataclass(frozen=True)
class CharacterInfo:
    """The voicebank's identity; image/portrait/sample are absolute paths (or None)."""

    name: str
    author: str | None
    web: str | None
    version: str | None
    image: Path | None
    portrait: Path | None
    sample: Path | None
    default_phonemizer: str | None
    singer_type: str
    text_file_encoding: str
    subbanks: tuple[Subbank, ...]
    ignored_keys: tuple[str, ...]


def _read_character_txt(path: Path, encoding: str) -> dict[str, str]:
    """`key=value` lines; a file in another encoding than declared is retried as Shift-JIS (old UTAU banks)."""
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        text = raw.decode("cp932", errors="replace")
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def _subbanks(path: Path, raw: list[Any] | None) -> tuple[Subbank, ...]:
    """character.yaml `subbanks`: list of {color, prefix, suffix, tone_ranges}."""
    result: list[Subbank] = []
    for i, item in enumerate(raw or []):
        key = f"subbanks[{i}]"
        if not isinstance(item, dict):
            raise VoiceConfigError(f"{path}: key {key!r} must be a mapping, got {item!r}")
        fields = {}
        for name in ("color", "prefix", "suffix"):
            value = item.get(name, "")
            if value is None:
                value = ""
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise VoiceConfigError(f"{path}: key '{key}.{name}' must be a str, got {value!r}")
            fields[name] = str(value)
        ranges = item.get("tone_ranges") or []
        if not isinstance(ranges, list) or not all(isinstance(r, str) for r in ranges):
            raise VoiceConfigError(f"{path}: key '{key}.tone_ranges' must be a list of str, got {ranges!r}")
        result.append(Subbank(fields["color"], fields["prefix"], fields["suffix"], tuple(ranges)))
    return tuple(result)


def _inside(root: Path, name: str | None, key: str, path: Path) -> Path | None:
    """Resolve a file name of character.* relative to the bank, refusing one that leaves it."""
    if not name:
        return None
    target = (root / name).resolve()
    if not target.is_relative_to(root.resolve()):
        raise VoiceConfigError(f"{path}: key {key!r} points outside the voicebank: {name!r}")
    return target


def load_character(root: Path) -> CharacterInfo:
    """Read character.txt (required) and character.yaml (required: singer_type diffsinger)."""
    txt_path, yaml_path = root / CHARACTER_TXT, root / CHARACTER_YAML
    if not txt_path.is_file():
        raise VoiceConfigError(f"{txt_path}: file not found (OpenUtau finds voicebanks by it)")
    if not yaml_path.is_file():
        raise VoiceConfigError(f"{yaml_path}: file not found; key 'singer_type' must say diffsinger")
    values, ignored = parse_keys(yaml_path, read_yaml_mapping(yaml_path), CHARACTER_KEYS)
    if (values["singer_type"] or "").lower() != "diffsinger":
        raise VoiceConfigError(f"{yaml_path}: key 'singer_type' must be 'diffsinger', got {values['singer_type']!r}")
    encoding = values["text_file_encoding"] or "utf-8"
    txt = _read_character_txt(txt_path, encoding)
    name = values["name"] or txt.get("name")
    if not name:
        raise VoiceConfigError(f"{txt_path}: key 'name' is missing (also absent from {CHARACTER_YAML})")

    def pick(key: str) -> str | None:
        value = values.get(key) or txt.get(key)
        return str(value) if value else None

    return CharacterInfo(
        name=name,
        author=pick("author"),
        web=pick("web"),
        version=pick("version"),
        image=_inside(root, pick("image"), "image", yaml_path),
        portrait=_inside(root, pick("portrait"), "portrait", yaml_path),
        sample=_inside(root, pick("sample"), "sample", yaml_path),
        default_phonemizer=pick("default_phonemizer"),
        singer_type="diffsinger",
        text_file_encoding=encoding,
        subbanks=_subbanks(yaml_path, values["subbanks"]),
        ignored_keys=ignored,
    )
