"""The download formats: the FLAC is the WAV's PCM bit for bit; the MP3 decodes to the song's length
and shape."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
import soundfile as sf

from singer_tasks.render.assembly import encode_wav
from singer_tasks.render.encode import MPEG_RATES, encode_flac, encode_listening, mpeg_rate, resample

MP3_FRAME = 1152


def sweep(sample_rate: int, seconds: float = 2.5, f0: float = 110.0, f1: float = 3000.0) -> np.ndarray:
    """A linear sine sweep at 0.6 of full scale."""
    t = np.arange(round(sample_rate * seconds)) / sample_rate
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds))
    return (0.6 * np.sin(phase)).astype(np.float32)


def wav_pcm(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate()


def best_correlation(source: np.ndarray, decoded: np.ndarray, max_lag: int = MP3_FRAME) -> float:
    """The highest correlation of the two over lags within one MP3 frame (a decoder may shift a little)."""
    best = -1.0
    for lag in range(-max_lag, max_lag + 1, 1):
        a = source[max(0, lag) :]
        b = decoded[max(0, -lag) :]
        n = min(len(a), len(b))
        best = max(best, float(np.corrcoef(a[:n], b[:n])[0, 1]))
        if best > 0.99:
            break
    return best


@pytest.mark.parametrize("sample_rate", [44100, 48000, 24000])
def test_flac_is_the_wav_pcm_bit_for_bit(sample_rate: int) -> None:
    rng = np.random.default_rng(7)
    song = np.concatenate([sweep(sample_rate), rng.uniform(-1.3, 1.3, 5000).astype(np.float32)])  # clipped too
    flac = encode_flac(song, sample_rate)
    assert flac[:4] == b"fLaC"
    decoded, rate = sf.read(io.BytesIO(flac), dtype="int16")
    pcm, wav_rate = wav_pcm(encode_wav(song, sample_rate))
    assert rate == wav_rate == sample_rate
    assert decoded.ndim == 1 and np.array_equal(decoded, pcm)
    assert len(flac) < len(encode_wav(song, sample_rate))


@pytest.mark.parametrize("sample_rate", [44100, 22050, 40000])
def test_listening_file_decodes_to_the_song(sample_rate: int) -> None:
    song = sweep(sample_rate)
    data, ext, content_type = encode_listening(song, sample_rate)
    assert (ext, content_type) == ("mp3", "audio/mpeg")
    assert data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
    decoded, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == mpeg_rate(sample_rate)
    expected = round(len(song) * rate / sample_rate)
    assert abs(len(decoded) - expected) <= MP3_FRAME
    source = resample(song, sample_rate, rate)
    assert best_correlation(source, decoded) > 0.9
    # Compressed: well under the 16-bit PCM's size.
    assert len(data) < len(song) * 2 / 4


def test_mpeg_rates_and_resampling() -> None:
    assert mpeg_rate(44100) == 44100 and mpeg_rate(40000) == 44100 and mpeg_rate(96000) == 48000
    assert all(mpeg_rate(rate) == rate for rate in MPEG_RATES)
    tone = np.sin(2 * np.pi * 440 * np.arange(40000) / 40000).astype(np.float32)
    out = resample(tone, 40000, 44100)
    assert len(out) == 44100
    reference = np.sin(2 * np.pi * 440 * np.arange(44100) / 44100)
    middle = slice(1000, 43000)
    assert np.max(np.abs(out[middle] - reference[middle])) < 1e-3
    assert resample(tone, 40000, 40000) is not None and len(resample(np.zeros(0), 40000, 44100)) == 0


def test_silence_encodes() -> None:
    silence = np.zeros(44100, dtype=np.float32)
    data, _, _ = encode_listening(silence, 44100)
    decoded, _ = sf.read(io.BytesIO(data), dtype="float32")
    assert abs(len(decoded) - len(silence)) <= MP3_FRAME and np.max(np.abs(decoded)) < 1e-3
    assert np.array_equal(sf.read(io.BytesIO(encode_flac(silence, 44100)), dtype="int16")[0], np.zeros(44100))
