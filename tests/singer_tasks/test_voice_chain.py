"""Voices as chains of stages: an OpenUtau voicebank and an openvpi voice with a variance model sing through
the normal render path, with expression `voice` (their own timing and pitch) and `score` (as written)."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from singer_tasks.errors import RenderInputError, UnsupportedLanguage, VoiceConfigError
from singer_tasks.phrase import Phrase
from singer_tasks.render import phrase_cache
from singer_tasks.render.pipeline import RenderOptions, render_phrases, sing_phrase
from singer_tasks.render.plan import phonemizer_dictionary, plan_song
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.settings import get_settings
from singer_tasks.voices.bank_voice import VoicebankVoice, note_midi
from singer_tasks.voices.chain import Chain
from singer_tasks.voices.loader import clear_voice_cache, get_voice, load_voice
from singer_tasks.voices.manifest import find_manifest
from singer_tasks.voices.seeded_noise import SeededNoise
from singer_tasks.voices.voicebank import Note, PhraseRequest
from singer_tasks.voices.voicebank.phrase import predict_durations, predict_pitch
from tests.singer_tasks.fixtures.scores.xmlbuild import measure, note, rest, tempo, voice_score

FIXTURES = Path(__file__).parent / "fixtures"
BANK = FIXTURES / "voicebanks" / "tiny-random"
OPENVPI = FIXTURES / "openvpi"


def song() -> bytes:
    """Three phrases of pinyin the tiny bank's dsdict knows (ma ba shi / ni ke / gu), 120 bpm."""
    return voice_score(
        [
            measure(1, tempo(120), note("C4", 4, "ma"), note("D4", 4, "ba"), note("E4", 4, "shi"), rest(4)),
            measure(2, note("G4", 4, "ni"), note("A4", 2, "ke"), rest(2), note("A4", 4, "gu"), rest(4)),
        ]
    )


def zip_bank(target: Path) -> Path:
    """The fixture voicebank as users download it: a .zip holding its folder."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(BANK.rglob("*")):
            if path.is_file() and "cases" not in path.parts:
                archive.write(path, f"tiny-random/{path.relative_to(BANK).as_posix()}")
    return target


@pytest.fixture
def voices_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A voices dir holding the voicebank as a .zip (named unlike the voice), with a private cache."""
    root = tmp_path / "voices"
    root.mkdir()
    zip_bank(root / "bank-download.zip")
    monkeypatch.setenv("SINGER_VOICES_DIR", str(root))
    monkeypatch.setenv("SINGER_VOICE_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    clear_voice_cache()
    yield root
    clear_voice_cache()


@pytest.fixture(scope="module")
def bank_voice() -> VoicebankVoice:
    voice = load_voice(str(BANK.resolve()))
    assert isinstance(voice, VoicebankVoice)
    return voice


@pytest.fixture(scope="module")
def phrases() -> list[Phrase]:
    manifest = find_manifest(str(BANK.resolve()))
    return plan_song(song(), "song.musicxml", manifest, ScoreLimits(), language="zh").phrases


def score_midi(phrase: Phrase, times_s: np.ndarray) -> np.ndarray:
    f0 = np.asarray(phrase.f0_hz)
    t = np.arange(len(f0)) * phrase.f0_timestep_s
    voiced = f0 > 0
    midi: np.ndarray = np.interp(times_s, t[voiced], 69 + 12 * np.log2(f0[voiced] / 440))
    return midi


def hz_to_midi(hz: np.ndarray) -> np.ndarray:
    return 69 + 12 * np.log2(np.asarray(hz, dtype=np.float64) / 440)


# --- the voicebank as a voice ---


def test_voicebank_found_by_its_own_name(voices_dir: Path) -> None:
    manifest = find_manifest("tiny-random", voices_dir)
    assert manifest.kind == "voicebank" and manifest.folder == (voices_dir / "bank-download.zip").resolve()
    assert manifest.languages == ("zh",) and manifest.speakers == ("spk0", "spk1", "spk2")
    assert manifest.bank is not None
    assert manifest.bank.stages == ("duration", "pitch", "variance", "acoustic", "vocoder")
    dictionary = phonemizer_dictionary(manifest)
    assert dictionary is not None and dictionary.lookup("zh", "shi") == ("sh", "ir")


def test_chain_and_expression_defaults(bank_voice: VoicebankVoice) -> None:
    assert bank_voice.chain == Chain(("duration", "pitch", "variance", "acoustic", "vocoder"))
    assert bank_voice.resolve_expression(None) == "voice"
    assert Chain(("acoustic", "vocoder")).resolve("voice") == "score"  # no timing/pitch models: the score
    with pytest.raises(RenderInputError, match="expression"):
        bank_voice.resolve_expression("loud")


def test_score_expression_sings_the_phrase_as_written(bank_voice: VoicebankVoice, phrases: list[Phrase]) -> None:
    for index, phrase in enumerate(phrases):
        samples = sing_phrase(bank_voice, phrase, index, RenderOptions(expression="score"))
        assert samples.dtype == np.float32 and len(samples) == round(phrase.duration_s * bank_voice.sample_rate)
        assert np.isfinite(samples).all() and np.abs(samples).max() > 0
        trace = bank_voice.last_trace
        assert trace is not None and trace.expression == "score" and trace.speaker == "spk0"
        assert trace.durations_from == "score" and trace.pitch_from == "score"
        np.testing.assert_allclose(trace.durations_s, phrase.ph_dur_s, atol=1e-9)
        inside = (trace.f0_times_s >= 0) & (trace.f0_times_s <= phrase.duration_s)
        fed = hz_to_midi(trace.f0_hz[inside])
        np.testing.assert_allclose(fed, score_midi(phrase, trace.f0_times_s[inside]), atol=0.01)
        assert set(trace.curves) == {"energy", "breathiness", "voicing", "tension"}


def _request(phrase: Phrase, voice: VoicebankVoice, seed: int) -> PhraseRequest:
    notes = [
        Note(60.0 if n == "rest" else note_midi(n), d * 1000, rest=n == "rest", slur=bool(s))
        for n, d, s in zip(phrase.note_seq, phrase.note_dur_s, phrase.note_slur, strict=True)
    ]
    return PhraseRequest(
        phonemes=list(phrase.ph_seq), notes=notes, speakers={"spk0": 1.0}, default_speaker="spk0",
        extra_inputs=SeededNoise(voice.noise, seed),
    )  # fmt: skip


def test_voice_expression_follows_the_duration_and_pitch_models(
    bank_voice: VoicebankVoice, phrases: list[Phrase]
) -> None:
    index, phrase = 1, phrases[1]  # starts with SP: OpenUtau's time 0 is the phrase's start
    assert phrase.ph_seq[0] == "SP"
    sing_phrase(bank_voice, phrase, index, RenderOptions(expression="voice"))
    trace = bank_voice.last_trace
    assert trace is not None and trace.durations_from == "model" and trace.pitch_from == "model"
    # durations: exactly dsdur's, aligned to the notes as OpenUtau aligns them
    request = _request(phrase, bank_voice, index)
    durations, lead = predict_durations(bank_voice.bank, request)
    assert lead == 0.0
    np.testing.assert_allclose(trace.durations_s, durations / 1000, atol=1e-9)
    assert not np.allclose(trace.durations_s, phrase.ph_dur_s, atol=1e-3)
    assert sum(trace.durations_s) == pytest.approx(phrase.duration_s, abs=1e-6)
    # pitch: exactly dspitch's curve for those durations and this phrase's seeded noise
    curve: Any = predict_pitch(bank_voice.bank, request, durations, lead)
    times_ms, predicted = curve
    np.testing.assert_allclose(trace.f0_times_s, np.asarray(times_ms) / 1000, atol=1e-9)
    np.testing.assert_allclose(hz_to_midi(trace.f0_hz), predicted, atol=1e-3)
    inside = (trace.f0_times_s >= 0) & (trace.f0_times_s <= phrase.duration_s)
    off = np.abs(hz_to_midi(trace.f0_hz[inside]) - score_midi(phrase, trace.f0_times_s[inside]))
    assert off.mean() > 0.1  # the (random) pitch model does not sing the score's curve


def test_leading_consonants_stay_inside_the_phrase(bank_voice: VoicebankVoice, phrases: list[Phrase]) -> None:
    phrase = phrases[0]  # starts on a consonant at t=0 ("m a ...")
    assert phrase.ph_seq[:2] == ("m", "a")
    samples = sing_phrase(bank_voice, phrase, 0, RenderOptions(expression="voice"))
    trace = bank_voice.last_trace
    assert trace is not None and trace.durations_from == "model"
    assert trace.durations_s[0] <= phrase.ph_dur_s[0] + 1e-9  # squeezed into the room before the first vowel
    assert len(samples) == round(phrase.duration_s * bank_voice.sample_rate)


def test_same_seed_same_samples_and_seeds_differ(bank_voice: VoicebankVoice, phrases: list[Phrase]) -> None:
    options = RenderOptions(expression="voice")
    a = sing_phrase(bank_voice, phrases[2], 2, options)
    b = sing_phrase(bank_voice, phrases[2], 2, options)
    c = sing_phrase(bank_voice, phrases[2], 5, options)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_speakers_change_the_output(bank_voice: VoicebankVoice, phrases: list[Phrase]) -> None:
    phrase = phrases[2]
    default = sing_phrase(bank_voice, phrase, 0, RenderOptions(expression="score"))
    first = sing_phrase(bank_voice, phrase, 0, RenderOptions(expression="score", speaker="spk0"))
    other = sing_phrase(bank_voice, phrase, 0, RenderOptions(expression="score", speaker="spk2"))
    np.testing.assert_array_equal(default, first)
    assert not np.allclose(first, other)
    with pytest.raises(RenderInputError, match="spk0, spk1, spk2"):
        sing_phrase(bank_voice, phrase, 0, RenderOptions(speaker="nobody"))


def test_render_phrases_both_expressions(bank_voice: VoicebankVoice) -> None:
    plan = plan_song(song(), "song.musicxml", find_manifest(str(BANK.resolve())), ScoreLimits(), language="zh")
    for expression in ("voice", "score"):
        options = RenderOptions(expression=expression)
        wave = render_phrases(plan.phrases, bank_voice, options=options, min_duration_s=plan.score_duration_s)
        assert len(wave) >= round(plan.score_duration_s * bank_voice.sample_rate) - 1
        assert np.isfinite(wave).all() and np.abs(wave).max() > 0


def test_zip_and_folder_sing_the_same(voices_dir: Path, bank_voice: VoicebankVoice, phrases: list[Phrase]) -> None:
    zipped = get_voice("tiny-random", voices_dir)
    assert isinstance(zipped, VoicebankVoice) and zipped.manifest.folder.suffix == ".zip"
    for expression in ("voice", "score"):
        options = RenderOptions(expression=expression)
        np.testing.assert_array_equal(
            sing_phrase(zipped, phrases[1], 1, options), sing_phrase(bank_voice, phrases[1], 1, options)
        )


def test_broken_voicebank_fails_at_load(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(BANK, broken, ignore=shutil.ignore_patterns("cases"))
    (broken / "dspitch" / "tiny.pitch.onnx").write_bytes(b"not a graph")
    with pytest.raises(VoiceConfigError, match=r"tiny\.pitch\.onnx"):
        load_voice(str(broken))
    (broken / "dspitch" / "tiny.pitch.onnx").unlink()
    with pytest.raises(VoiceConfigError, match=r"key 'pitch' names 'tiny\.pitch\.onnx'"):
        load_voice(str(broken))


def test_a_language_the_voice_lacks_is_refused_before_rendering() -> None:
    manifest = find_manifest(str(BANK.resolve()))
    english = voice_score([measure(1, tempo(120), note("C4", 4, "hello"), rest(4))])
    with pytest.raises(UnsupportedLanguage, match="it sings zh"):
        plan_song(english, "song.musicxml", manifest, ScoreLimits(), language="en")


def test_cache_key_covers_expression_speaker_and_the_bank_files(tmp_path: Path, phrases: list[Phrase]) -> None:
    folder = tmp_path / "bank"
    shutil.copytree(BANK, folder, ignore=shutil.ignore_patterns("cases"))
    manifest = find_manifest(str(folder))

    def key(**options: str) -> str:
        return phrase_cache.cache_key(phrases[0], manifest, options=RenderOptions(**options), seed=0,  # type: ignore[arg-type]
                                      sample_rate=44100, precision="fp32")  # fmt: skip

    base = key(expression="voice", speaker="spk0")
    assert len({base, key(expression="score", speaker="spk0"), key(expression="voice", speaker="spk1")}) == 3
    (folder / "dsdur" / "tiny.spk1.emb").write_bytes(bytes(128))
    assert key(expression="voice", speaker="spk0") != base


# --- an openvpi voice with a variance model ---


@pytest.fixture(scope="module")
def openvpi_voice(tmp_path_factory: pytest.TempPathFactory) -> object:
    """main-allembeds-rk4 + voc-mini with var-word-all in front: the same dictionary (checked below), so the
    variance model predicts durations, pitch and all four curves the acoustic model takes."""
    var, acoustic = OPENVPI / "var-word-all", OPENVPI / "main-allembeds-rk4"
    assert (var / "dictionary.txt").read_text() == (acoustic / "dictionary.txt").read_text()
    folder = tmp_path_factory.mktemp("openvpi-voice")
    (folder / "voice.yaml").write_text(
        f"""name: tiny-chain
kind: diffsinger
licence: test weights (random), not a real voice
languages: [zh]
acoustic:
  checkpoint: {acoustic / "model.ckpt"}
  config: {acoustic / "config.yaml"}
  dictionaries: {{zh: {acoustic / "dictionary.txt"}}}
  speakers: {{alto: 0, tenor: 1, bass: 2}}
vocoder:
  checkpoint: {OPENVPI / "voc-mini" / "model.ckpt"}
  config: {OPENVPI / "voc-mini" / "config.json"}
variance:
  checkpoint: {var / "model.ckpt"}
  config: {var / "config.yaml"}
  dictionaries: {{zh: {var / "dictionary.txt"}}}
defaults:
  steps: 2
  curves: {{key_shift: 0.0, speed: 1.0}}
"""
    )
    return load_voice(str(folder))


def test_openvpi_variance_voice_sings_both_expressions(openvpi_voice: object) -> None:
    from singer_tasks.voices.models import DiffSingerVoice

    voice = openvpi_voice
    assert isinstance(voice, DiffSingerVoice)
    assert voice.chain.stages == ("duration", "pitch", "variance", "acoustic", "vocoder")
    assert voice.speakers == ("alto", "tenor", "bass")
    manifest = voice.manifest
    phrase = plan_song(song(), "song.musicxml", manifest, ScoreLimits(), language="zh").phrases[1]
    n = round(phrase.duration_s * voice.sample_rate)
    score = sing_phrase(voice, phrase, 1, RenderOptions(expression="score", steps=2))
    trace = voice.last_trace
    assert trace is not None and trace.durations_from == "score" and trace.pitch_from == "score"
    assert trace.curves_from == "model" and len(score) == n
    np.testing.assert_allclose(trace.durations_s, phrase.ph_dur_s)
    sung = sing_phrase(voice, phrase, 1, RenderOptions(expression="voice", steps=2))
    trace = voice.last_trace
    assert trace is not None and trace.durations_from == "model" and trace.pitch_from == "model"
    assert len(sung) == n and np.isfinite(sung).all()
    assert sum(trace.durations_s) == pytest.approx(phrase.duration_s, abs=0.02)
    assert not np.allclose(trace.durations_s, phrase.ph_dur_s, atol=1e-3)
    other = sing_phrase(voice, phrase, 1, RenderOptions(expression="voice", steps=2, speaker="bass"))
    assert not np.allclose(sung, other)
