"""render_phrases: placement at offsets, progress, the cooperative time check, and a real score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from singer_tasks.errors import RenderInputError
from singer_tasks.phrase import Phrase
from singer_tasks.render.pipeline import RenderOptions, render_phrases
from singer_tasks.voices.loader import load_voice

from .test_voices import TINY, tiny_phrase

SR = 44100


class OutOfTime(Exception):
    pass


def test_phrases_are_placed_at_their_offsets() -> None:
    voice = load_voice("builtin")
    phrases = [tiny_phrase(0.5), tiny_phrase(2.0)]
    events: list[tuple[str, float]] = []
    checks: list[int] = []
    song = render_phrases(phrases, voice, progress=lambda s, f: events.append((s, f)),
                          check_time=lambda: checks.append(1))  # fmt: skip
    single = voice.render_phrase(phrases[1], seed=1)
    assert song.dtype == np.float32
    assert len(song) == round(2.0 * SR) + len(single)
    assert np.abs(song[: round(0.5 * SR)]).max() == 0.0  # silence before the first phrase
    assert np.array_equal(song[round(2.0 * SR) :], single)
    fractions = [f for _, f in events]
    assert fractions == sorted(fractions) and events[-1] == ("done", 1.0)
    assert len(checks) >= 2


def test_overlapping_phrases_are_cross_faded() -> None:
    voice = load_voice("builtin")
    first, second = tiny_phrase(0.0), tiny_phrase(0.8)  # the first phrase lasts 0.9 s
    song = render_phrases([first, second], voice)
    assert len(song) == round(0.8 * SR) + len(voice.render_phrase(second, seed=1))
    assert np.all(np.isfinite(song))


def test_check_time_is_called_between_sampler_steps_and_can_stop_a_render() -> None:
    voice = load_voice(TINY)
    calls: list[int] = []
    render_phrases(
        [tiny_phrase(), tiny_phrase(1.0)], voice, options=RenderOptions(steps=3), check_time=lambda: calls.append(1)
    )
    assert len(calls) == 2 * (1 + 3)  # before each phrase and after each of its 3 steps

    def limit() -> None:
        calls.append(1)
        if len(calls) > 10:
            raise OutOfTime

    calls.clear()
    with pytest.raises(OutOfTime):
        render_phrases([tiny_phrase(), tiny_phrase(1.0)], voice, options=RenderOptions(steps=20), check_time=limit)
    assert len(calls) == 11


def test_no_phrases_and_unknown_phonemes_fail_before_rendering() -> None:
    voice = load_voice("builtin")
    with pytest.raises(RenderInputError, match="no phrases"):
        render_phrases([], voice)
    bad = Phrase(0.0, ("a", "qx"), (0.2, 0.2), (2,), ("A3",), (0.4,), (0,), (220.0,))
    rendered: list[str] = []
    with pytest.raises(Exception, match="qx"):
        render_phrases([tiny_phrase(), bad], voice, progress=lambda s, f: rendered.append(s))
    assert rendered == []


def test_a_real_score_through_parse_phonemize_and_the_builtin_voice() -> None:
    from singer_tasks.phonemize import score_to_phrases
    from singer_tasks.score.read import parse_score

    path = Path(__file__).parent / "fixtures" / "scores" / "twinkle.musicxml"
    score = parse_score(path.read_bytes(), path.name)
    phrases = score_to_phrases(score, language="en")
    song = render_phrases(phrases, load_voice("builtin"))
    last = phrases[-1]
    assert abs(len(song) / SR - (last.offset_s + last.duration_s)) <= 512 / SR
    assert np.abs(song).max() > 0.05


def test_render_command_writes_a_wav(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import wave

    from singer_tasks.cli.main import main

    score = Path(__file__).parent / "fixtures" / "scores" / "twinkle.musicxml"
    out = tmp_path / "out.wav"
    assert main(["render", str(score), "-o", str(out), "--language", "en"]) == 0
    with wave.open(str(out)) as wav:
        assert wav.getframerate() == SR and wav.getnchannels() == 1 and wav.getsampwidth() == 2
        seconds = wav.getnframes() / SR
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert seconds > 5 and np.abs(pcm).max() > 1000
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "render" in captured.err
    # A voice that cannot sing the score's language fails cleanly.
    assert main(["render", str(score), "-o", str(out), "--voice", str(TINY), "--language", "en"]) == 2
    assert "language" in capsys.readouterr().err
    assert main(["render", str(score), "-o", str(out), "--voice", "nobody"]) == 2
    assert "no voice 'nobody'" in capsys.readouterr().err
