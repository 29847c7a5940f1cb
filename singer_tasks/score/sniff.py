"""Is this upload a MusicXML score? A cheap look at the bytes, with no XML parser and no music21.

The API uses it to refuse a wrong file before a job is paid for; the worker's parser checks again
thoroughly (entities, zip bombs, limits).
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Literal

from singer_tasks.errors import UnreadableScore

ScoreFormat = Literal["musicxml", "mxl"]
_ROOT = re.compile(rb"<\s*score-(partwise|timewise)\b")
_HEAD_BYTES = 64 * 1024


def _text_head(data: bytes) -> bytes:
    head = data[:_HEAD_BYTES]
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, errors="ignore").encode()
    return head.removeprefix(b"\xef\xbb\xbf")


def sniff_score(data: bytes) -> ScoreFormat:
    """'musicxml' or 'mxl'; UnreadableScore saying what the file looks like otherwise."""
    if not data.strip():
        raise UnreadableScore("the file is empty: upload a MusicXML score (.musicxml, .xml or .mxl)")
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, ValueError) as e:
            raise UnreadableScore(f"the file is a damaged zip archive ({e}); export the .mxl again") from e
        scores = [n for n in names if n.lower().endswith((".xml", ".musicxml")) and not n.startswith("META-INF/")]
        if "META-INF/container.xml" not in names and not scores:
            raise UnreadableScore(
                "the zip archive holds no MusicXML score; upload a .mxl exported by a notation program"
            )
        return "mxl"
    head = _text_head(data)
    if _ROOT.search(head):
        return "musicxml"
    if head.lstrip().startswith((b"%PDF", b"\x89PNG", b"MThd", b"ID3", b"RIFF")):
        kind = {b"%PDF": "a PDF", b"\x89PNG": "a PNG image", b"MThd": "a MIDI file", b"ID3": "an MP3", b"RIFF": "a WAV"}
        name = next(v for k, v in kind.items() if head.lstrip().startswith(k))
        raise UnreadableScore(f"the file is {name}, not a MusicXML score; export MusicXML from your notation program")
    if head.lstrip().startswith(b"<"):
        raise UnreadableScore("the file is XML but not a MusicXML score (no <score-partwise> or <score-timewise>)")
    raise UnreadableScore("the file is not a MusicXML score; upload a .musicxml, .xml or .mxl file")
