"""`python -m singer_tasks ds`: a .ds file openvpi's inference reads, and clear errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from singer_tasks.cli.main import main
from singer_tasks.phrase import loads_ds
from tests.singer_tasks.fixtures.scores.xmlbuild import Lyric, measure, note, rest, tempo, voice_score

FIXTURES = Path(__file__).parent / "fixtures" / "scores"
REPO = Path(__file__).resolve().parents[2]
KEYS = {"offset", "ph_seq", "ph_dur", "ph_num", "note_seq", "note_dur", "note_slur", "f0_seq", "f0_timestep"}
NOTE = re.compile(r"^(rest|[A-G]#?-?\d+)$")


def check_openvpi_segment(seg: dict[str, object]) -> None:
    """What openvpi's inference relies on when it reads a segment."""
    assert set(seg) >= KEYS
    ph = str(seg["ph_seq"]).split()
    ph_dur = np.array([float(x) for x in str(seg["ph_dur"]).split()])
    ph_num = [int(x) for x in str(seg["ph_num"]).split()]
    notes = str(seg["note_seq"]).split()
    note_dur = np.array([float(x) for x in str(seg["note_dur"]).split()])
    slur = [int(x) for x in str(seg["note_slur"]).split()]
    f0 = [float(x) for x in str(seg["f0_seq"]).split()]
    assert len(ph) == len(ph_dur) and sum(ph_num) == len(ph)
    assert len(notes) == len(note_dur) == len(slur) and all(NOTE.match(n) for n in notes)
    assert slur[0] == 0 and sum(1 for s in slur if s == 0) == len(ph_num)  # one word per non-slur note
    assert np.all(ph_dur > 0)
    assert abs(ph_dur.sum() - note_dur.sum()) < 1e-4  # (values are rounded to 6 digits in the file)
    timestep = float(str(seg["f0_timestep"]))
    assert abs(len(f0) * timestep - ph_dur.sum()) <= timestep + 1e-6
    # openvpi's frame alignment: frames = round(cumsum(ph_dur) / (512/44100) + 0.5) never decreases
    frames = np.round(np.cumsum(ph_dur) / (512 / 44100) + 0.5)
    assert np.all(np.diff(frames) >= 0)


def test_cli_writes_a_valid_ds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "song.ds"
    assert main(["ds", str(FIXTURES / "twinkle.musicxml"), "-o", str(out)]) == 0
    assert "phrase" in capsys.readouterr().out
    segments = json.loads(out.read_text())
    assert len(segments) == 2  # the fixture has one long rest in the middle
    for seg in segments:
        check_openvpi_segment(seg)
    phrases = loads_ds(out.read_text())
    assert phrases[0].offset_s == 0.0 and phrases[0].ph_seq[:3] == ("t", "w", "ih")  # starts on beat 1
    assert phrases[1].offset_s > phrases[0].offset_s + phrases[0].duration_s - 1e-6


def test_cli_chinese_mxl_with_verse_and_part(tmp_path: Path) -> None:
    out = tmp_path / "zh.ds"
    args = ["ds", str(FIXTURES / "two_verses_zh.mxl"), "-o", str(out), "--verse", "2", "--part", "Voice"]
    assert main([*args, "--language", "zh"]) == 0
    (phrase,) = loads_ds(out.read_text())
    assert phrase.ph_seq == ("SP", "sh", "an", "sh", "ui", "SP")  # verse 2: 山水
    for seg in json.loads(out.read_text()):
        check_openvpi_segment(seg)


def test_cli_reports_bad_scores_with_a_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.musicxml"
    bad.write_bytes(b'<!DOCTYPE x [<!ENTITY a "b">]><score-partwise>&a;</score-partwise>')
    assert main(["ds", str(bad), "-o", str(tmp_path / "x.ds")]) == 2
    assert "unreadable_score" in capsys.readouterr().err
    assert main(["ds", str(tmp_path / "missing.xml"), "-o", str(tmp_path / "x.ds")]) == 2
    assert "cannot read" in capsys.readouterr().err
    no_lyrics = tmp_path / "plain.musicxml"
    no_lyrics.write_bytes(voice_score([measure(1, tempo(100), note("C4", 16))]))
    assert main(["ds", str(no_lyrics), "-o", str(tmp_path / "x.ds")]) == 2
    assert "no_lyrics" in capsys.readouterr().err
    assert not (tmp_path / "x.ds").exists()


def test_module_entry_point(tmp_path: Path) -> None:
    score = tmp_path / "s.musicxml"
    score.write_bytes(voice_score([measure(1, tempo(120), rest(4), note("C4", 8, Lyric("hi")), rest(4))]))
    out = tmp_path / "s.ds"
    result = subprocess.run(
        [sys.executable, "-m", "singer_tasks", "ds", str(score), "-o", str(out), "--language", "en"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (phrase,) = loads_ds(out.read_text())
    assert phrase.ph_seq == ("SP", "hh", "ay", "SP")
