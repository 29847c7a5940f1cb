"""Assembly: phrases placed at their offsets, overlaps cross-faded, padded, encoded as 16-bit WAV."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from singer_tasks.phrase import Phrase
from singer_tasks.render.assembly import assemble, encode_wav, place

SR = 100  # a tiny sample rate keeps the arithmetic visible


def phrase_at(offset_s: float, duration_s: float) -> Phrase:
    return Phrase(offset_s, ("a",), (duration_s,), (1,), ("A4",), (duration_s,), (0,), (440.0,))


def test_pieces_land_at_their_offsets_with_silence_between() -> None:
    pieces = [np.full(50, 0.5, np.float32), np.full(30, -0.25, np.float32)]
    song = assemble([phrase_at(0.1, 0.5), phrase_at(1.0, 0.3)], pieces, SR)
    assert len(song) == 130
    assert np.all(song[:10] == 0) and np.all(song[10:60] == 0.5)
    assert np.all(song[60:100] == 0) and np.all(song[100:130] == -0.25)


def test_an_overlap_is_cross_faded_linearly() -> None:
    first, second = np.ones(40, np.float32), np.zeros(40, np.float32)
    song = assemble([phrase_at(0.0, 0.4), phrase_at(0.3, 0.4)], [first, second], SR)
    assert len(song) == 70
    fade = song[30:40]
    assert fade[0] == 1.0 and np.all(np.diff(fade) < 0) and fade[-1] == 0.0  # from the first to the second
    assert np.all(song[:30] == 1.0) and np.all(song[40:] == 0.0)


def test_the_song_is_padded_to_the_score_but_never_cut() -> None:
    piece = np.ones(20, np.float32)
    assert len(assemble([phrase_at(0.0, 0.2)], [piece], SR, min_duration_s=1.5)) == 150
    assert len(assemble([phrase_at(0.0, 0.2)], [piece], SR, min_duration_s=0.1)) == 20


def test_place_grows_the_buffer_geometrically() -> None:
    song, length = np.zeros(0, np.float32), 0
    for start in range(0, 1000, 10):
        song, length = place(song, length, np.ones(10, np.float32), start)
    assert length == 1000 and len(song) < 4000 and np.all(song[:length] == 1.0)


def test_mismatched_pieces_are_refused() -> None:
    with pytest.raises(ValueError):
        assemble([phrase_at(0.0, 0.1)], [], SR)


def test_wav_is_mono_16_bit_and_clipped() -> None:
    data = encode_wav(np.array([0.0, 0.5, 2.0, -3.0], np.float32), 22050)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 22050, 4)
        pcm = np.frombuffer(w.readframes(4), "<i2")
    assert pcm.tolist() == [0, 16384, 32767, -32767]
