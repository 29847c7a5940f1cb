"""Real scores from music21's bundled corpus (offline): a broad sample parses, and lyric onsets agree
with a small independent reading of the MusicXML (divisions, backup/forward, <sound tempo>)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from singer_tasks.score.read import parse_score

pytestmark = pytest.mark.slow


def corpus_dir() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


# (file, language of the text); English, German, Italian, Latin, French, Hawaiian/English
SAMPLE = [
    ("johnson_j_r/lift_every_voice.mxl", "en"),
    ("beach/prayer_of_a_tired_child.musicxml", "en"),
    ("liliuokalani/aloha_oe.mxl", "en"),
    ("leadSheet/fosterBrownHair.mxl", "en"),
    ("leadSheet/berlinAlexandersRagtime.mxl", "en"),
    ("schubert/Lindenbaum.xml", "de"),
    ("schumann_robert/dichterliebe_no2.xml", "de"),
    ("schumann_robert/opus48no2.mxl", "de"),
    ("bach/bwv10.7.mxl", "de"),
    ("bach/bwv103.6.mxl", "de"),
    ("monteverdi/madrigal.3.1.mxl", "it"),
    ("monteverdi/madrigal.5.4.mxl", "it"),
    ("verdi/laDonnaEMobile.mxl", "it"),
    ("handel/rinaldo/Lascia_chio_pianga.mxl", "it"),
    ("lusitano/allor_che_ignuda.mxl", "it"),
    ("luca/gloria.xml", "la"),
    ("webern/webern_dormi_jesu_op_16_no_2.mxl", "la"),
    ("trecento/PMFC_24_21-O proles hispanie.xml", "la"),
    ("trecento/PMFC_13_01-Kyrie-Summe-Clementissime.mxl", "la"),
    ("trecento/PMFC_06_Giovanni-07_In_Sulla_Ripa.xml", "it"),
    ("demos/incorrect_time_signature_pv.mxl", "fr"),
]


def _read(path: Path) -> bytes:
    return path.read_bytes()


@pytest.mark.parametrize(("name", "lang"), SAMPLE, ids=[s[0] for s in SAMPLE])
def test_real_scores_parse(name: str, lang: str) -> None:
    path = corpus_dir() / name
    if not path.exists():
        pytest.skip(f"{name} is not in this music21's corpus")
    s = parse_score(_read(path), path.name)
    sung = [n for n in s.notes if n.lyric]
    assert len(sung) >= 10, f"{name}: only {len(sung)} syllables"
    assert all(n.duration_s > 0 for n in s.notes)
    for a, b in zip(s.events, s.events[1:], strict=False):  # events tile the song
        assert b.onset_s == pytest.approx(a.end_s, abs=1e-6)
    assert 5 < s.duration_s < 900


def _xml_of(path: Path) -> ET.Element:
    if path.suffix == ".mxl":
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if not n.startswith("META-INF") and n.endswith(("xml", "musicxml")))
            return ET.fromstring(z.read(name))
    return ET.parse(path).getroot()


def _first_line(root: ET.Element, names: dict[str | None, str], part_name: str) -> str:
    """The first lyric line's number attribute: the lowest number, else the first name used."""
    used: list[str] = []
    for part in root.findall("part"):
        if names.get(part.get("id")) == part_name:
            used += [ly.get("number") or "1" for ly in part.iter("lyric")]
    numeric = sorted({u for u in used if u.isdigit()}, key=int)
    return numeric[0] if numeric else used[0]


def independent_lyric_onsets(root: ET.Element, part_name: str) -> list[tuple[float, str]]:
    """Seconds and text of each first-verse syllable of the named part, read straight from the XML."""
    names = {sp.get("id"): (sp.findtext("part-name") or "").strip() for sp in root.iter("score-part")}
    line = _first_line(root, names, part_name)
    tempos: list[tuple[float, float]] = []  # (quarter offset, bpm) from every part
    found: list[tuple[float, str]] = []
    for part in root.findall("part"):
        wanted = names.get(part.get("id")) == part_name
        state = {"divisions": 1.0, "start": 0.0, "voice": ""}
        for m in part.findall("measure"):
            _read_measure(m, state, tempos, found if wanted else [], line)
    tempos.sort()
    return [(_seconds(q, tempos), text) for q, text in found]


def _read_measure(
    m: ET.Element, state: dict, tempos: list[tuple[float, float]], found: list[tuple[float, str]], line: str
) -> None:
    cursor = longest = 0.0
    for el in m:
        if el.tag == "attributes" and el.findtext("divisions"):
            state["divisions"] = float(el.findtext("divisions") or 1)
        elif el.tag in ("backup", "forward"):
            d = float(el.findtext("duration") or 0) / state["divisions"]
            cursor += -d if el.tag == "backup" else d
        elif el.tag in ("direction", "sound"):
            for snd in [el] if el.tag == "sound" else el.iter("sound"):
                if snd.get("tempo"):
                    tempos.append((state["start"] + cursor, float(snd.get("tempo") or 120)))
        elif el.tag == "note" and el.find("grace") is None and el.find("chord") is None:
            voice = el.findtext("voice") or "1"
            state["voice"] = state["voice"] or voice
            texts = [
                "".join(t.text or "" for t in ly.findall("text")).strip()
                for ly in el.findall("lyric")
                if (ly.get("number") or "1") == line
            ]
            if voice == state["voice"] and texts and texts[0]:
                found.append((state["start"] + cursor, texts[0]))
            cursor += float(el.findtext("duration") or 0) / state["divisions"]
        longest = max(longest, cursor)
    state["start"] += longest


def _seconds(q: float, tempos: list[tuple[float, float]]) -> float:
    marks = [(0.0, 120.0)] + [t for t in tempos if t[0] > 0] if not tempos or tempos[0][0] > 0 else tempos
    seconds, last_q, bpm = 0.0, 0.0, marks[0][1]
    for at, new_bpm in marks[1:]:
        if at >= q:
            break
        seconds += (at - last_q) * 60 / bpm
        last_q, bpm = at, new_bpm
    return seconds + (q - last_q) * 60 / bpm


# files without repeats, so the written order is the sung order
TIMING_SAMPLE = [
    "beach/prayer_of_a_tired_child.musicxml",
    "schubert/Lindenbaum.xml",
    "schumann_robert/dichterliebe_no2.xml",
    "liliuokalani/aloha_oe.mxl",
    "luca/gloria.xml",
    "johnson_j_r/lift_every_voice.mxl",
]


@pytest.mark.parametrize("name", TIMING_SAMPLE)
def test_lyric_onsets_match_an_independent_reading(name: str) -> None:
    path = corpus_dir() / name
    s = parse_score(_read(path), path.name)
    ours = [(n.onset_s, n.lyric) for n in s.notes if n.lyric]
    theirs = independent_lyric_onsets(_xml_of(path), s.part_name)
    assert len(theirs) == len(ours)
    assert [t for t, _ in ours] == pytest.approx([t for t, _ in theirs], abs=1e-6)
