"""The song's download formats besides the WAV: lossless FLAC and an MP3 for listening.

Both through `soundfile` (libsndfile, BSD-3-Clause; its wheels bundle libsndfile with FLAC, and MP3
through LAME and mpg123), in memory, with no network. The FLAC holds exactly the 16-bit PCM of the WAV
(`assembly.encode_wav` quantizes the same way). The MP3 is LAME VBR -V2 (its "standard" preset, about
190 kbps for stereo, less for the mono song) at the song's own rate when MPEG allows it; any other rate
is resampled first (band-limited, by FFT) to the nearest MPEG rate above it.
"""

from __future__ import annotations

import io
import math

import numpy as np
import soundfile as sf

FLAC_TYPE = "audio/flac"
MP3_TYPE = "audio/mpeg"
# LAME -V2: libsndfile maps compression level 0..1 to LAME's VBR quality 0..10.
MP3_VBR_LEVEL = 0.2
# The sample rates MPEG-1, -2 and -2.5 Layer III can carry.
MPEG_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] (clipped) as 16-bit PCM, quantized as the WAV is."""
    return np.asarray((np.clip(samples, -1.0, 1.0) * 32767.0).round().astype(np.int16))


def encode_flac(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono 16-bit FLAC bytes of float samples in [-1, 1]: the WAV's PCM, losslessly compressed."""
    buffer = io.BytesIO()
    sf.write(buffer, pcm16(samples), sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def mpeg_rate(sample_rate: int) -> int:
    """The MPEG sample rate to encode a song of `sample_rate` at: its own, else the next one above."""
    return next((rate for rate in MPEG_RATES if rate >= sample_rate), MPEG_RATES[-1])


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling by FFT (zero-padded so the ends do not wrap); the length follows the rate."""
    if from_rate == to_rate or len(samples) == 0:
        return np.asarray(samples, dtype=np.float32)
    out_len = round(len(samples) * to_rate / from_rate)
    # Pad to a whole number of rate periods, so the output length is exact and the ratio is the rates'.
    period = from_rate // math.gcd(from_rate, to_rate)
    n_in = -(-(len(samples) + max(64, len(samples) // 16)) // period) * period
    n_out = n_in * to_rate // from_rate
    padded = np.concatenate([np.asarray(samples, dtype=np.float64), np.zeros(n_in - len(samples))])
    spectrum = np.fft.rfft(padded)
    bins = n_out // 2 + 1
    if bins <= len(spectrum):
        spectrum = spectrum[:bins].copy()
        if n_out % 2 == 0:
            spectrum[-1] = spectrum[-1].real  # the new Nyquist bin of a real signal
    else:
        spectrum = np.concatenate([spectrum, np.zeros(bins - len(spectrum), dtype=spectrum.dtype)])
    resampled = np.fft.irfft(spectrum, n_out) * (n_out / n_in)
    return np.asarray(resampled[:out_len], dtype=np.float32)


def encode_mp3(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono MP3 bytes (LAME VBR -V2) of float samples in [-1, 1]."""
    rate = mpeg_rate(sample_rate)
    audio = np.clip(resample(samples, sample_rate, rate), -1.0, 1.0).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(
        buffer,
        audio,
        rate,
        format="MP3",
        subtype="MPEG_LAYER_III",
        bitrate_mode="VARIABLE",
        compression_level=MP3_VBR_LEVEL,
    )
    return buffer.getvalue()


def encode_listening(samples: np.ndarray, sample_rate: int) -> tuple[bytes, str, str]:
    """The compressed file to listen to: (bytes, file extension without the dot, content type)."""
    return encode_mp3(samples, sample_rate), "mp3", MP3_TYPE


__all__ = ["FLAC_TYPE", "MP3_TYPE", "encode_flac", "encode_listening", "encode_mp3", "mpeg_rate", "pcm16", "resample"]
