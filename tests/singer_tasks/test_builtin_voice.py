"""The built-in DSP voice measured like a singer: pitch, timing, vowel formants, consonants, rests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from singer_tasks.errors import PhonemeError
from singer_tasks.phrase import Phrase
from singer_tasks.voices.builtin.phonemes import lookup
from singer_tasks.voices.builtin.vocoder import BuiltinVocoder
from singer_tasks.voices.builtin.voice import BuiltinAcoustic
from singer_tasks.voices.mel import MelConfig, mel_spectrogram

from .voice_measure import cents, lpc_formants, yin_pitch

SR = 44100
HOP = 512


def _phrase(phonemes: list[str], durs: list[float], notes_hz: list[float], lang: str | None = "zh") -> Phrase:
    """One note per phoneme (0 Hz = rest); f0 is the notes held flat, sampled every 5 ms."""
    f0: list[float] = []
    for hz, d in zip(notes_hz, durs, strict=True):
        f0 += [hz] * round(d / 0.005)
    names = ["rest" if hz == 0 else "A3" for hz in notes_hz]
    return Phrase(0.25, tuple(phonemes), tuple(durs), (1,) * len(phonemes), tuple(names), tuple(durs),
                  (0,) * len(phonemes), tuple(f0), lang=lang)  # fmt: skip


MELODY = _phrase(
    ["SP", "n", "i", "h", "ao", "SP", "sh", "ir", "j", "ie", "AP", "l", "a", "m", "a", "SP"],
    [0.2, 0.08, 0.5, 0.1, 0.6, 0.15, 0.12, 0.45, 0.1, 0.7, 0.3, 0.08, 0.4, 0.08, 1.0, 0.2],
    [0, 220, 220, 262, 262, 0, 330, 330, 294, 294, 0, 196, 196, 247, 247, 0],
)


@pytest.fixture(scope="module")
def melody() -> tuple[Phrase, np.ndarray, np.ndarray]:
    rendering = BuiltinAcoustic().render(MELODY)
    return MELODY, rendering.waveform, rendering.mel


def test_output_format_matches_the_acoustic_model(melody: tuple[Phrase, np.ndarray, np.ndarray]) -> None:
    phrase, wave, mel = melody
    rendering = BuiltinAcoustic().render(phrase)
    frames = mel.shape[0]
    assert mel.shape == (frames, 128) and rendering.f0.shape == (frames,)
    assert wave.dtype == np.float32 and wave.shape == (frames * HOP,)
    expected = mel_spectrogram(torch.from_numpy(wave), MelConfig()).T.numpy()
    assert np.allclose(mel, expected, atol=1e-5)
    assert np.array_equal(rendering.waveform, wave)  # deterministic


def test_duration_equals_the_score_within_one_hop(melody: tuple[Phrase, np.ndarray, np.ndarray]) -> None:
    phrase, wave, _ = melody
    assert abs(len(wave) - phrase.duration_s * SR) <= HOP


def test_sings_on_pitch(melody: tuple[Phrase, np.ndarray, np.ndarray]) -> None:
    phrase, wave, _ = melody
    tracked = yin_pitch(wave, SR, hop=HOP)
    # The score's pitch at each analysis frame centre, on frames well inside a vowel.
    centres = (np.arange(len(tracked)) * HOP + 1024) / SR
    edges = np.concatenate([[0.0], np.cumsum(phrase.ph_dur_s)])
    vowel_frames, expected = [], []
    for i, c in enumerate(centres):
        k = int(np.searchsorted(edges, c, side="right") - 1)
        sound = lookup(phrase.ph_seq[k], phrase.lang)
        if sound is not None and sound.kind == "vowel" and edges[k] + 0.05 < c < edges[k + 1] - 0.05:
            vowel_frames.append(i)
            expected.append(phrase.f0_hz[min(int(c / 0.005), len(phrase.f0_hz) - 1)])
    measured = tracked[vowel_frames]
    assert len(vowel_frames) > 100
    voiced = measured > 0
    assert voiced.mean() > 0.95  # vowels are voiced
    gross = cents(np.where(voiced, measured, 1.0), np.array(expected)) > 50
    assert gross.mean() < 0.05


@pytest.mark.parametrize(
    ("vowel", "lang", "f1_range", "f2_range"),
    [
        ("a", "zh", (600, 1000), (1000, 1500)),
        ("i", "zh", (200, 450), (1900, 3000)),
        ("u", "zh", (200, 450), (500, 1100)),
        ("AA1", "en", (600, 1000), (1000, 1500)),
        ("iy", "en", (200, 450), (1900, 3000)),
        ("UW", "en", (200, 450), (500, 1100)),
    ],
)
def test_vowel_formants(vowel: str, lang: str, f1_range: tuple[int, int], f2_range: tuple[int, int]) -> None:
    phrase = _phrase(["SP", vowel, "SP"], [0.1, 0.8, 0.1], [0, 220, 0], lang=lang)
    wave = BuiltinAcoustic().render(phrase).waveform
    formants = lpc_formants(wave[int(0.4 * SR) : int(0.45 * SR)], SR)
    assert f1_range[0] <= formants[0] <= f1_range[1]
    assert f2_range[0] <= formants[1] <= f2_range[1]


def test_vowels_differ_from_each_other() -> None:
    measured = {}
    for vowel in ("a", "i", "u"):
        wave = BuiltinAcoustic().render(_phrase(["SP", vowel, "SP"], [0.1, 0.8, 0.1], [0, 262, 0])).waveform
        measured[vowel] = lpc_formants(wave[int(0.4 * SR) : int(0.45 * SR)], SR)[:2]
    assert measured["a"][0] - max(measured["i"][0], measured["u"][0]) > 250  # /a/ is open
    assert measured["i"][1] - measured["u"][1] > 1000  # /i/ front, /u/ back


def _zero_crossing_rate(x: np.ndarray) -> float:
    return float(np.mean(np.abs(np.diff(np.sign(x))) > 0))


def test_consonants_rests_and_breaths() -> None:
    phrase = _phrase(
        ["SP", "s", "a", "SP", "sh", "a", "AP", "f", "a", "SP"],
        [0.3, 0.2, 0.4, 0.3, 0.2, 0.4, 0.4, 0.2, 0.4, 0.2],
        [0, 0, 220, 0, 0, 220, 0, 0, 220, 0],
    )
    wave = BuiltinAcoustic().render(phrase).waveform.astype(np.float64)
    edges = np.concatenate([[0.0], np.cumsum(phrase.ph_dur_s)])

    def middle(k: int) -> np.ndarray:
        a, b = edges[k], edges[k + 1]
        return wave[int((a + 0.3 * (b - a)) * SR) : int((b - 0.3 * (b - a)) * SR)]

    rms = {k: float(np.sqrt(np.mean(middle(k) ** 2))) for k in range(len(edges) - 1)}
    assert rms[0] < 1e-4 and rms[3] < 1e-4  # silence on SP
    vowel = middle(2)
    assert rms[2] > 0.05 and _zero_crossing_rate(vowel) < 0.1
    for k in (1, 4):  # s, sh: noisy, high-frequency, aperiodic and audible
        seg = middle(k)
        spectrum = np.abs(np.fft.rfft(seg)) ** 2
        freqs = np.fft.rfftfreq(len(seg), 1 / SR)
        assert spectrum[freqs > 2000].sum() > 0.8 * spectrum.sum()
        assert _zero_crossing_rate(seg) > 0.15
        assert rms[k] > 0.01
        assert np.all(yin_pitch(seg, SR, hop=HOP) == 0)
    assert 1e-4 < rms[6] < rms[2]  # the breath is audible but softer than singing
    assert 1e-3 < rms[7] < rms[1]  # f is a weak fricative


def test_phoneme_spellings_and_unknown_phonemes() -> None:
    voice = BuiltinAcoustic()
    voice.check_phonemes(_phrase(["HH", "AH0", "L", "OW1"], [0.1] * 4, [220] * 4, lang="en"))
    voice.check_phonemes(_phrase(["hh", "ah", "l", "ow"], [0.1] * 4, [220] * 4, lang=None))
    voice.check_phonemes(_phrase(["zh/ix", "zh/iy", "en/iy"], [0.1] * 3, [220] * 3, lang=None))
    assert lookup("iy", "zh") != lookup("iy", "en")
    with pytest.raises(PhonemeError, match=r"\['qq', 'xyz'\]"):
        voice.render(_phrase(["a", "xyz", "qq"], [0.2] * 3, [220] * 3))


def test_builtin_vocoder_resynthesises_a_mel(melody: tuple[Phrase, np.ndarray, np.ndarray]) -> None:
    phrase, wave, mel = melody
    f0 = BuiltinAcoustic().render(phrase).f0
    out = BuiltinVocoder().synthesize(mel, f0)
    assert out.shape == wave.shape
    remel = mel_spectrogram(torch.from_numpy(out), MelConfig()).T.numpy()
    active = mel.max(axis=1) > -5
    assert np.mean(np.abs(remel - mel)[active]) < 0.5
    a, b = yin_pitch(out, SR, hop=HOP), yin_pitch(wave, SR, hop=HOP)
    both = (a > 0) & (b > 0)
    assert both.sum() > 100 and np.median(cents(a[both], b[both])) < 20


def test_stops_have_a_closure_then_a_burst() -> None:
    phrase = _phrase(["a", "t", "a", "k", "a"], [0.4, 0.12, 0.4, 0.12, 0.4], [220, 0, 220, 0, 220])
    wave = BuiltinAcoustic().render(phrase).waveform.astype(np.float64)
    for start in (0.4, 0.92):  # the t and the k
        closure = wave[int((start + 0.02) * SR) : int((start + 0.05) * SR)]
        burst = wave[int((start + 0.08) * SR) : int((start + 0.11) * SR)]
        vowel = wave[int((start - 0.2) * SR) : int((start - 0.1) * SR)]
        assert np.sqrt(np.mean(closure**2)) < 0.1 * np.sqrt(np.mean(vowel**2))  # near silence
        assert np.sqrt(np.mean(burst**2)) > 3 * np.sqrt(np.mean(closure**2))  # then noise
        assert _zero_crossing_rate(burst) > 0.1
