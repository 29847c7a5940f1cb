"""Reading untrusted MusicXML bytes safely, before music21 sees them.

Both containers are checked here: plain .musicxml/.xml, and compressed .mxl (a zip whose
META-INF/container.xml names the score). The XML parse refuses entity declarations and external
references (billion laughs, XXE); the zip is measured before anything is inflated (zip bombs), and
the inflation itself stops at the limit, since a zip header's sizes can lie.

Notes are counted on the parsed tree, before music21 builds anything from it: over the whole file
(`max_xml_notes`, what the parse budget allows) and per part (`max_notes`, the limit of the sung
line), so a heavy score is refused in milliseconds rather than after minutes of music21.
"""

from __future__ import annotations

import io
import zipfile
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from singer_tasks.errors import ScoreTooLarge, UnreadableScore
from singer_tasks.score.limits import ScoreLimits

_ZIP_MAGIC = b"PK\x03\x04"
_CHUNK = 1 << 16


def load_score_xml(data: bytes, filename: str, limits: ScoreLimits) -> Element:
    """The root element (`score-partwise`) of the score in `data` (a timewise score is turned partwise);
    raises UnreadableScore or ScoreTooLarge."""
    if len(data) > limits.max_score_bytes:
        raise ScoreTooLarge(
            f"{filename} is {len(data):,} bytes, over the limit of {limits.max_score_bytes:,}; "
            "upload a smaller score (compressed .mxl helps)"
        )
    if not data.strip():
        raise UnreadableScore(f"{filename} is empty; upload a MusicXML (.musicxml, .xml or .mxl) file")
    if filename.lower().endswith(".mxl") or data.startswith(_ZIP_MAGIC):
        xml = _inflate_mxl(data, filename, limits)
    else:
        if len(data) > limits.max_xml_bytes:
            raise ScoreTooLarge(f"{filename} is over the limit of {limits.max_xml_bytes:,} bytes of XML")
        xml = data
    root = parse_xml_safely(xml, filename)
    if root.tag == "score-timewise":
        root = timewise_to_partwise(root)
    if root.tag != "score-partwise":
        raise UnreadableScore(
            f"{filename} is XML but not a MusicXML score (root element <{root.tag}>); "
            "upload a MusicXML export of your score"
        )
    check_note_counts(root, filename, limits)
    return root


def timewise_to_partwise(root: Element) -> Element:
    """The partwise form of a timewise score (music21 reads partwise only).

    MusicXML's two layouts hold the same content: timewise nests <part> in each <measure>, partwise nests
    <measure> in each <part>. The header (work, credits, part-list) is kept as it is; each part's measures
    keep their attributes (number, implicit) and contents, in the file's order."""
    partwise = Element("score-partwise", root.attrib)
    parts: dict[str, Element] = {}
    for child in root:
        if child.tag != "measure":
            partwise.append(child)
            continue
        for part in child.findall("part"):
            part_id = part.get("id", "")
            if part_id not in parts:
                parts[part_id] = Element("part", part.attrib)
            measure = Element("measure", child.attrib)
            measure.extend(list(part))
            parts[part_id].append(measure)
    partwise.extend(parts.values())
    return partwise


def sung_notes(part: Element) -> int:
    """How many notes of `part` start a sound: <note> elements that are not rests, chord members, grace
    notes or tied continuations without a syllable of their own. A sung line never has fewer notes
    than its part has this way, except where a measure holds several voices (only the first is sung)."""
    count = 0
    for note in part.iter("note"):
        if note.find("rest") is not None or note.find("chord") is not None or note.find("grace") is not None:
            continue
        tied_to = any(t.get("type") == "stop" for t in note.findall("tie"))
        if tied_to and not any((text.text or "").strip() for text in note.iter("text")):
            continue  # tied from the note before, no syllable of its own: one sung note with it
        count += 1
    return count


def part_names(root: Element) -> dict[str, str]:
    """Part id -> its name (from <part-list>), for messages."""
    names = {}
    for score_part in root.iter("score-part"):
        name = (score_part.findtext("part-name") or "").strip()
        names[score_part.get("id", "")] = name or score_part.get("id", "")
    return names


def check_note_counts(root: Element, filename: str, limits: ScoreLimits) -> None:
    """Refuse a score music21 should not be asked to read: too many <note> elements in the file, or a
    part longer than a sung line may be (ScoreTooLarge, naming the part and the limit)."""
    notes = sum(1 for _ in root.iter("note"))
    if notes > limits.max_xml_notes:
        raise ScoreTooLarge(
            f"{filename} holds {notes:,} notes over all its parts, over the limit of {limits.max_xml_notes:,}; "
            "upload a score with the vocal part only"
        )
    names = part_names(root)
    for part in root.findall("part"):
        sung = sung_notes(part)
        if sung > limits.max_notes:
            name = names.get(part.get("id", ""), part.get("id", "?"))
            raise ScoreTooLarge(
                f"{filename}: part '{name}' has {sung:,} notes, over the limit of {limits.max_notes:,} notes "
                "a sung line may have; upload a shorter score, or split the song"
            )


def parse_xml_safely(xml: bytes, filename: str) -> Element:
    """Parse XML with entity declarations and external references refused (a plain DOCTYPE is fine)."""
    try:
        root: Element = SafeET.fromstring(xml, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise UnreadableScore(
            f"{filename} declares XML entities or external references ({type(e).__name__}), which are "
            "refused for safety; re-export the score from your notation program"
        ) from e
    except ParseError as e:
        raise UnreadableScore(f"{filename} is not well-formed XML ({e}); re-export it as MusicXML") from e
    return root


def _inflate_mxl(data: bytes, filename: str, limits: ScoreLimits) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as e:
        raise UnreadableScore(f"{filename} is not a valid .mxl (zip) archive; re-export it") from e
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_archive_members:
            raise ScoreTooLarge(
                f"{filename} holds {len(members)} files, over the limit of {limits.max_archive_members}"
            )
        total = sum(m.file_size for m in members)
        if total > limits.max_xml_bytes:
            raise ScoreTooLarge(f"{filename} unpacks to {total:,} bytes, over the limit of {limits.max_xml_bytes:,}")
        for m in members:
            # tiny members may compress absurdly well without harm; judge ratio only above 1 MB
            if m.file_size > 1_000_000 and m.file_size > limits.max_compression_ratio * max(m.compress_size, 1):
                raise ScoreTooLarge(
                    f"{filename}: {m.filename} is compressed {m.file_size / max(m.compress_size, 1):.0f}:1, "
                    "which looks like a zip bomb; re-export the score"
                )
        name = _root_file_name(archive, filename)
        return _read_bounded(archive, name, filename, limits.max_xml_bytes)


def _root_file_name(archive: zipfile.ZipFile, filename: str) -> str:
    names = archive.namelist()
    if "META-INF/container.xml" in names:
        container = parse_xml_safely(archive.read("META-INF/container.xml"), f"{filename}:container.xml")
        for el in container.iter():
            if el.tag.rsplit("}", 1)[-1] == "rootfile" and el.get("full-path") in names:
                return str(el.get("full-path"))
    candidates = [n for n in names if not n.startswith("META-INF/") and n.lower().endswith((".xml", ".musicxml"))]
    if not candidates:
        raise UnreadableScore(f"{filename} is a zip archive without a MusicXML score inside")
    return candidates[0]


def _read_bounded(archive: zipfile.ZipFile, name: str, filename: str, limit: int) -> bytes:
    out = bytearray()
    try:
        with archive.open(name) as stream:
            while chunk := stream.read(_CHUNK):
                out += chunk
                if len(out) > limit:
                    raise ScoreTooLarge(f"{filename}: {name} unpacks past the limit of {limit:,} bytes")
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise UnreadableScore(f"{filename}: {name} cannot be decompressed ({e}); re-export it") from e
    return bytes(out)
