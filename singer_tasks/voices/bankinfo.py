"""What an OpenUtau DiffSinger voicebank is, read from its text files only (no numpy, torch or onnxruntime).

The catalog (which the API imports) and the manifest lookup need a voicebank's name, speakers, languages and
stages without loading a graph, from a folder or straight from a downloaded .zip (members are read, nothing is
extracted). OpenUtau finds a voicebank by its character.txt; the shallowest one inside the folder or zip is the
bank's root. Languages, first rule that answers:

1. ``use_lang_id`` with a languages file: its keys (a multilingual bank);
2. ``dsdict-<lang>.yaml`` files in dsdur/ or the root (OpenUtau's per-language dictionaries);
3. the language of ``default_phonemizer`` in character.yaml (DiffSingerJapanesePhonemizer -> ja, ...);
4. the graphemes of the generic dsdict.yaml: mostly pinyin syllables -> zh, mostly romaji morae -> ja.
"""

from __future__ import annotations

import functools
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from singer_tasks.errors import VoiceConfigError

CHARACTER_TXT = "character.txt"
SUBFOLDERS = {"duration": "dsdur", "pitch": "dspitch", "variance": "dsvariance"}
DICTIONARY_FOLDERS = ("dsdur", "dspitch", "dsvariance", "")
LICENCE_STEMS = ("license", "licence", "terms", "readme", "利用規約", "規約", "readme_en")
_MAX_LICENCE_CHARS = 4000
_KANA = re.compile(r"[\u3041-\u3096\u30a1-\u30fa]")
_ONSETS = ("", "k", "s", "sh", "t", "ch", "ts", "n", "h", "f", "m", "y", "r", "w", "g", "z", "j", "d", "b", "p", "v",
           "ky", "gy", "ny", "hy", "my", "ry", "by", "py")  # fmt: skip
_ROMAJI_MORAE = frozenset({c + v for c in _ONSETS for v in "aiueo"} | {"n", "cl", "-"})
# OpenUtau phonemizer class names -> language (the DiffSinger*Phonemizer family and the common others).
_PHONEMIZER_LANGUAGES = {
    "japanese": "ja", "chinese": "zh", "mandarin": "zh", "english": "en", "arpabet": "en", "korean": "ko",
    "cantonese": "yue", "spanish": "es", "portuguese": "pt", "italian": "it", "french": "fr", "german": "de",
    "russian": "ru", "vietnamese": "vi", "thai": "th", "polish": "pl", "indonesian": "id", "tagalog": "tl",
}  # fmt: skip


class BankFiles:
    """Read access to a voicebank's files by their path relative to the bank root, in a folder or a zip."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self._zip: zipfile.ZipFile | None = None
        self._names: dict[str, str] = {}  # relative name -> member name (zips)
        if source.is_dir():
            found = _shallowest(p.relative_to(source).as_posix() for p in source.rglob(CHARACTER_TXT))
            if found is None:
                raise VoiceConfigError(f"{source}: no {CHARACTER_TXT} found (OpenUtau finds voicebanks by it)")
            self.root: Path | None = source / PurePosixPath(found).parent
            self.prefix = ""
        elif zipfile.is_zipfile(source):
            self._zip = zipfile.ZipFile(source)
            members = [i.filename for i in self._zip.infolist() if not i.is_dir()]
            found = _shallowest(m for m in members if PurePosixPath(m).name == CHARACTER_TXT)
            if found is None:
                raise VoiceConfigError(f"{source}: no {CHARACTER_TXT} inside (OpenUtau finds voicebanks by it)")
            parent = str(PurePosixPath(found).parent)
            self.prefix = "" if parent == "." else parent + "/"
            self._names = {m[len(self.prefix) :]: m for m in members if m.startswith(self.prefix)}
            self.root = None
        else:
            raise VoiceConfigError(f"{source}: neither a voicebank folder nor a .zip")

    def close(self) -> None:
        """Close the zip (if any)."""
        if self._zip is not None:
            self._zip.close()

    def exists(self, rel: str) -> bool:
        """Whether the bank has the file `rel` (posix path relative to its root)."""
        if self.root is not None:
            return (self.root / rel).is_file()
        return rel in self._names

    def read(self, rel: str) -> bytes | None:
        """The file's bytes, or None when absent."""
        if self.root is not None:
            path = self.root / rel
            return path.read_bytes() if path.is_file() else None
        member = self._names.get(rel)
        return None if member is None or self._zip is None else self._zip.read(member)

    def listdir(self, folder: str = "") -> list[str]:
        """Names of the files directly in `folder` (relative to the root)."""
        if self.root is not None:
            base = self.root / folder
            return sorted(p.name for p in base.iterdir() if p.is_file()) if base.is_dir() else []
        head = folder.rstrip("/") + "/" if folder else ""
        return sorted(n[len(head) :] for n in self._names if n.startswith(head) and "/" not in n[len(head) :])

    def yaml(self, rel: str) -> dict[str, Any]:
        """A YAML mapping file ({} when absent); VoiceConfigError names a broken one."""
        data = self.read(rel)
        if data is None:
            return {}
        try:
            raw = yaml.safe_load(data.decode("utf-8-sig"))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise VoiceConfigError(f"{self.source}: {rel} is not valid YAML ({e})") from e
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise VoiceConfigError(f"{self.source}: {rel} must be a YAML mapping")
        return raw


def _shallowest(names: Iterator[str] | Any) -> str | None:
    ordered = sorted(names, key=lambda n: (len(PurePosixPath(n).parts), n))
    return ordered[0] if ordered else None


@dataclass(frozen=True)
class BankInfo:
    """A voicebank as the catalog shows it; `source` is its folder (the one holding character.txt) or .zip."""

    source: Path
    name: str
    author: str | None
    description: str
    languages: tuple[str, ...]
    speakers: tuple[str, ...]  # what a job may name: subbank colours, else the dsconfig speakers entries
    stages: tuple[str, ...]
    licence: str
    portrait: Path | None
    default_phonemizer: str | None
    use_lang_id: bool
    dictionaries: dict[str, str]  # language -> dsdict / dictionary file relative to the bank root


def _character_txt(data: bytes | None) -> dict[str, str]:
    if data is None:
        return {}
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp932", errors="replace")  # old UTAU banks
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def _speakers(character: dict[str, Any], dsconfig: dict[str, Any]) -> tuple[str, ...]:
    colours = [str(s.get("color") or "") for s in character.get("subbanks") or [] if isinstance(s, dict)]
    if colours and all(colours):
        return tuple(dict.fromkeys(colours))
    entries = dsconfig.get("speakers") or []
    return tuple(str(s) for s in entries) if isinstance(entries, list) else ()


def _licence(files: BankFiles) -> str:
    for name in files.listdir():
        stem = name.rsplit(".", 1)[0].lower()
        if any(stem.startswith(s) for s in LICENCE_STEMS) and name.lower().endswith((".txt", ".md", "")):
            data = files.read(name) or b""
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = data.decode("cp932", errors="replace")
            return text.strip()[:_MAX_LICENCE_CHARS]
    return "no licence file in the voicebank: see its author's terms before publishing renders"


def _dsdict_graphemes(files: BankFiles, rel: str) -> list[str]:
    raw = files.yaml(rel)
    entries = raw.get("entries") or []
    return [str(e.get("grapheme")) for e in entries if isinstance(e, dict) and e.get("grapheme") is not None]


@functools.lru_cache(maxsize=1)
def _pinyin_syllables(phonemes_dir: str) -> frozenset[str]:
    path = Path(phonemes_dir) / "opencpop-zh.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return frozenset()
    return frozenset(line.split("\t", 1)[0] for line in lines if "\t" in line)


def _guess_language(graphemes: list[str]) -> str | None:
    """zh or ja from a generic dsdict's graphemes (the larger share of pinyin vs romaji keys, at least half)."""
    # phonemize/ is not imported here: its package pulls in numpy, and the API reads the catalog.
    from singer_tasks.settings import get_settings

    if not graphemes:
        return None
    if any(_KANA.search(g) for g in graphemes):
        return "ja"
    pinyin = _pinyin_syllables(str(get_settings().phonemes_dir))
    zh = sum(g in pinyin for g in graphemes) / len(graphemes)
    ja = sum(g in _ROMAJI_MORAE for g in graphemes) / len(graphemes)
    best, share = ("zh", zh) if zh >= ja else ("ja", ja)
    return best if share >= 0.5 else None


def _generic_dictionary(files: BankFiles) -> str | None:
    for folder in DICTIONARY_FOLDERS:
        rel = f"{folder}/dsdict.yaml" if folder else "dsdict.yaml"
        if files.exists(rel):
            return rel
    return "dictionary.txt" if files.exists("dictionary.txt") else None


def _languages(
    files: BankFiles, dsconfig: dict[str, Any], phonemizer: str | None
) -> tuple[tuple[str, ...], dict[str, str]]:
    """(languages, language -> dictionary file)."""
    per_language: dict[str, str] = {}
    for folder in DICTIONARY_FOLDERS:
        for name in files.listdir(folder):
            if name.startswith("dsdict-") and name.endswith((".yaml", ".yml")):
                lang = name[len("dsdict-") :].rsplit(".", 1)[0]
                per_language.setdefault(lang, f"{folder}/{name}" if folder else name)
    generic = _generic_dictionary(files)
    languages: list[str] = []
    lang_file = dsconfig.get("languages")
    if dsconfig.get("use_lang_id") and isinstance(lang_file, str):
        data = files.read(lang_file)
        try:
            languages = list(json.loads(data.decode("utf-8-sig"))) if data else []
        except (ValueError, UnicodeDecodeError) as e:
            raise VoiceConfigError(f"{files.source}: {lang_file} is not valid JSON ({e})") from e
    if not languages:
        languages = list(per_language)
    if not languages and phonemizer:
        lowered = phonemizer.lower()
        languages = [lang for word, lang in _PHONEMIZER_LANGUAGES.items() if word in lowered][:1]
    if not languages and generic is not None and generic.endswith(".yaml"):
        guessed = _guess_language(_dsdict_graphemes(files, generic))
        languages = [guessed] if guessed else []
    dictionaries = {lang: per_language.get(lang, generic or "") for lang in languages}
    return tuple(languages), {k: v for k, v in dictionaries.items() if v}


def read_bank(source: Path) -> BankInfo:
    """A voicebank's identity from its text files (folder or .zip); VoiceConfigError when it is not one."""
    files = BankFiles(source)
    try:
        txt = _character_txt(files.read(CHARACTER_TXT))
        character = files.yaml("character.yaml")
        if str(character.get("singer_type", "")).lower() != "diffsinger":
            raise VoiceConfigError(
                f"{source}: character.yaml must say 'singer_type: diffsinger' (this is not a DiffSinger voicebank)"
            )
        dsconfig = files.yaml("dsconfig.yaml")
        if not dsconfig:
            raise VoiceConfigError(f"{source}: dsconfig.yaml is missing (the acoustic model's config)")
        name = str(character.get("name") or txt.get("name") or "")
        if not name:
            raise VoiceConfigError(f"{source}: character.txt has no 'name'")
        phonemizer = character.get("default_phonemizer")
        languages, dictionaries = _languages(files, dsconfig, str(phonemizer) if phonemizer else None)
        stages = [s for s, folder in SUBFOLDERS.items() if files.exists(f"{folder}/dsconfig.yaml")]
        stages.append("acoustic")
        if files.exists("dsvocoder/vocoder.yaml"):
            stages.append("vocoder")
        portrait_name = character.get("portrait") or character.get("image") or txt.get("image")
        portrait = None
        if files.root is not None and isinstance(portrait_name, str) and portrait_name:
            candidate = (files.root / portrait_name).resolve()
            if candidate.is_file() and candidate.is_relative_to(files.root.resolve()):
                portrait = candidate
        description = " ".join(x for x in (txt.get("web"), txt.get("version")) if x)
        return BankInfo(
            source=files.root if files.root is not None else source,
            name=name,
            author=str(character.get("author") or txt.get("author") or "") or None,
            description=description,
            languages=languages,
            speakers=_speakers(character, dsconfig),
            stages=tuple(stages),
            licence=_licence(files),
            portrait=portrait,
            default_phonemizer=str(phonemizer) if phonemizer else None,
            use_lang_id=bool(dsconfig.get("use_lang_id")),
            dictionaries=dictionaries,
        )
    finally:
        files.close()


def is_voicebank(path: Path) -> bool:
    """Whether `path` looks like a voicebank: a folder with character.txt (at most two levels down) or a .zip."""
    if path.is_dir():
        return (path / CHARACTER_TXT).is_file() or any(path.glob(f"*/{CHARACTER_TXT}"))
    return path.suffix.lower() == ".zip" and path.is_file()
