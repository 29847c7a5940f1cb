"""A voice warmed up at worker start (voices/warmup.py): the silent phrase renders with every kind of
voice, pays the int8 denoiser's one-time conversion, and a voice that cannot sing it does not stop the
worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from singer_tasks.settings import get_settings
from singer_tasks.voices.diffsinger.acoustic.int8 import int8_supported
from singer_tasks.voices.loader import get_voice, load_voice
from singer_tasks.voices.warmup import WARM_UP_S, silent_phrase, warm_up
from tests.singer_tasks.test_voices import _copy_tiny


def test_the_silent_phrase_is_a_valid_rest() -> None:
    phrase = silent_phrase()
    assert phrase.ph_seq == ("SP",) and phrase.note_seq == ("rest",)
    assert phrase.duration_s == pytest.approx(WARM_UP_S)
    assert not any(phrase.f0_hz)


def test_the_builtin_voice_warms_up() -> None:
    assert warm_up(get_voice("builtin"), "builtin") is not None


def test_an_openutau_voicebank_warms_up() -> None:
    bank = Path(__file__).parent / "fixtures" / "voicebanks" / "tiny-random"
    assert warm_up(load_voice(bank), "tiny-random") is not None


@pytest.mark.skipif(not int8_supported(), reason="this torch has no dynamic int8 Linear kernel")
def test_a_diffsinger_voice_warms_up_its_int8_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGER_PRECISION", "fast")
    monkeypatch.setenv("SINGER_VOICE_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    voice: Any = load_voice(_copy_tiny(tmp_path))
    if "int8" not in voice.precision:
        pytest.skip(f"this CPU's fast mode is {voice.precision}, without int8")
    assert "backbone" not in voice.model._int8 and getattr(voice.vocoder, "_int8_network", None) is None
    assert warm_up(voice, "tiny") is not None
    # made now, not in the first job's first phrase
    assert "backbone" in voice.model._int8
    if voice.precision == "int8":  # the vocoder's int8 network too, built into the voice cache
        assert voice.vocoder._int8_network.model_path.parent == tmp_path / "cache" / "int8"


def test_a_voice_that_cannot_sing_silence_does_not_stop_the_worker() -> None:
    class Broken:
        def render_phrase(self, phrase: object) -> None:
            raise RuntimeError("no SP in this dictionary")

    assert warm_up(Broken(), "broken") is None
