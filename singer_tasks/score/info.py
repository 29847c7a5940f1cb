"""What a person sees of a score before rendering it: its title, its verses and its parts.

Read quickly and boundedly on the API's side, with no music21: `load_score_xml` checks the size,
refuses entities and zip bombs and counts the notes, then this module walks the ElementTree once.
The lyric line labels follow `annotate` (a lyric's `number`, else its `name`, else its place on the
note), so a label listed here is one `parse_score` accepts.

`verse_argument` turns a label into what `parse_score` takes: a number label ("2") is a position
there (the n-th verse line), so it is translated into that position; other labels pass as labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from singer_tasks.score.annotate import LineMeta, line_kind
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.score.safe_xml import load_score_xml

__all__ = ["ScoreInfo", "ScorePart", "file_stem", "read_score_info", "verse_argument"]

_KIND_ORDER = {"verse": 0, "chorus": 1, "translation": 2}
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class ScorePart:
    """A part: its MusicXML id, its name (the id when unnamed), and the lyric line labels it carries."""

    id: str
    name: str
    verses: tuple[str, ...] = ()

    @property
    def has_lyrics(self) -> bool:
        """Whether any note of the part carries lyric text."""
        return bool(self.verses)


@dataclass(frozen=True)
class ScoreInfo:
    """A score's title, the lyric line labels of all its parts (verses in number order, then choruses,
    then translations) and its parts in document order."""

    title: str
    verses: tuple[str, ...] = ()
    parts: tuple[ScorePart, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form (camelCase, as the API answers)."""
        return {
            "title": self.title,
            "verses": list(self.verses),
            "parts": [_part_dict(p) for p in self.parts],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ScoreInfo:
        """Inverse of `to_dict`."""
        parts = tuple(ScorePart(str(p["id"]), str(p["name"]), tuple(p.get("verses", ()))) for p in raw.get("parts", ()))
        return cls(str(raw["title"]), tuple(raw.get("verses", ())), parts)

    def part(self, part_id: str) -> ScorePart | None:
        """The part with this MusicXML id."""
        return next((p for p in self.parts if p.id == part_id), None)


def _part_dict(part: ScorePart) -> dict[str, Any]:
    return {"id": part.id, "name": part.name, "hasLyrics": part.has_lyrics, "verses": list(part.verses)}


def file_stem(filename: str) -> str:
    """A file name without its folder and extension ("My Song.mxl" -> "My Song")."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    return stem.strip() or name


def read_score_info(data: bytes, filename: str, limits: ScoreLimits) -> ScoreInfo:
    """Title, verses and parts of the score in `data`; raises what `load_score_xml` raises (UnreadableScore,
    ScoreTooLarge) for a file that is no readable score, within `limits`."""
    root = load_score_xml(data, filename, limits)
    names = _part_names(root)
    parts, everything = [], {}
    for position, part in enumerate(root.findall("part"), 1):
        part_id = (part.get("id") or "").strip() or f"P{position}"
        labels = _lyric_labels(part)
        everything.update(labels)
        parts.append(ScorePart(part_id, names.get(part_id) or part_id, _sorted_labels(labels)))
    return ScoreInfo(_title(root) or file_stem(filename), _sorted_labels(everything), tuple(parts))


def verse_argument(info: ScoreInfo, label: str, part_id: str | None) -> int | str:
    """What `parse_score(verse=...)` needs to sing the line labelled `label`: its position among the
    verse lines for a number label (of the part asked for, else of all parts), else the label."""
    if not label.strip().isdigit():
        return label
    part = info.part(part_id) if part_id else None
    labels = part.verses if part is not None else info.verses
    verses = [v for v in labels if line_kind(v) == "verse"] or [v for v in labels if line_kind(v) == "chorus"]
    return verses.index(label) + 1 if label in verses else int(label.strip())


def _title(root: Element) -> str:
    """The work title, else the movement title, else the first credit typed as the title."""
    candidates = [root.findtext("work/work-title"), root.findtext("movement-title")]
    for credit in root.findall("credit"):
        if (credit.findtext("credit-type") or "").strip().lower() == "title":
            candidates.append(" ".join((w.text or "").strip() for w in credit.findall("credit-words")))
    for text in candidates:
        words = " ".join((text or "").split())
        if words:
            return words[:MAX_TITLE_CHARS]
    return ""


def _part_names(root: Element) -> dict[str, str]:
    return {
        (sp.get("id") or "").strip(): " ".join((sp.findtext("part-name") or "").split())
        for sp in root.iter("score-part")
    }


def _lyric_labels(part: Element) -> dict[str, str]:
    """Label -> kind of every lyric line with text in `part` (labels as `annotate` gives them)."""
    labels: dict[str, str] = {}
    for note in part.iter("note"):
        for place, lyric in enumerate(note.findall("lyric"), 1):
            if not any((t.text or "").strip() for t in lyric.iter("text")):
                continue
            number = (lyric.get("number") or "").strip()
            name = (lyric.get("name") or "").strip()
            label = number or name or str(place)
            labels.setdefault(label, line_kind(f"{label} {name}"))
    return labels


def _sorted_labels(labels: dict[str, str]) -> tuple[str, ...]:
    """Verses in number order, then choruses, then translations (as `parse_score` numbers them)."""
    return tuple(sorted(labels, key=lambda label: (_KIND_ORDER[labels[label]], LineMeta(label, "verse").order)))
