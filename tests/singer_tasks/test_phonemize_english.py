"""English front end: CMU dictionary + g2p_en's predictor (run offline), word joining and syllables."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from singer_tasks.errors import PhonemeError
from singer_tasks.phonemize import score_to_phrases
from singer_tasks.phonemize.dictionary import PhonemeDictionary
from singer_tasks.phonemize.english import clean_lyric, english_syllables, split_syllables
from singer_tasks.phonemize.g2p import GruPredictor, _cmu, word_phonemes
from tests.singer_tasks.fixtures.scores.songs import song

REPO = Path(__file__).resolve().parents[2]


def test_predictor_agrees_with_the_cmu_dictionary_on_most_words() -> None:
    # an independent check of the numpy GRU: a wrong implementation produces near-random output
    cmu = _cmu()
    words = sorted(w for w in cmu if w.isalpha() and 4 <= len(w) <= 10)
    sample = random.Random(7).sample(words, 150)
    predictor = GruPredictor()
    strip = str.maketrans("", "", "012")
    exact = sum(
        [p.translate(strip) for p in predictor.predict(w)] == [p.translate(strip) for p in cmu[w]] for w in sample
    )
    assert exact / len(sample) > 0.6


def test_dictionary_words_and_unknown_words() -> None:
    assert word_phonemes("hello") in {("hh", "ah", "l", "ow"), ("hh", "eh", "l", "ow")}
    assert word_phonemes("Fire") == ("f", "ay", "er")
    made_up = word_phonemes("blorptastic")
    assert made_up[:2] == ("b", "l") and made_up[-1] == "k"
    assert {"ae", "ih"} & set(made_up)  # "-tastic" has a vowel the predictor must find
    assert word_phonemes("123") == ()


def test_no_network_and_no_nltk_data_needed(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import socket, sys
        def refuse(*a, **k):
            raise OSError("network refused by test")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        from singer_tasks.phonemize.english import english_syllables
        from singer_tasks.phonemize.dictionary import PhonemeDictionary
        from singer_tasks.score.model import Note
        notes = [Note(0, 1, 60, lyric="zorbulous"), Note(1, 1, 62, lyric="hello")]
        out = english_syllables(notes, PhonemeDictionary.builtin())
        assert all(s is not None for s in out), out
        assert "nltk" not in sys.modules and "g2p_en" not in sys.modules, "imported g2p_en/nltk"
        print("OK", out[0].nucleus)
        """
    )
    env = {**os.environ, "NLTK_DATA": str(tmp_path), "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK")
    assert not any(tmp_path.iterdir())  # nothing was downloaded into NLTK_DATA


def test_clean_lyric_handles_punctuation_apostrophes_hyphens_and_elisions() -> None:
    assert clean_lyric("Don't,") == ["don't"]
    assert clean_lyric("O\u2019er") == ["o'er"]
    assert clean_lyric("hill-side!") == ["hill", "side"]
    assert clean_lyric("(oh)") == ["oh"]
    assert clean_lyric("che\u035ci") == ["che", "i"]
    assert clean_lyric("me_and") == ["me", "and"]
    assert clean_lyric("1.") == []
    assert clean_lyric("na\u00efve") == ["naive"]


def test_split_syllables_one_nucleus_per_note() -> None:
    # "monster" m-ah-n-s-t-er on two notes: "mon" + "ster" (s t is a legal onset, n s t is not)
    assert split_syllables(["m", "aa", "n", "s", "t", "er"], 2) == [
        (("m",), ("aa",), ("n",)),
        (("s", "t"), ("er",), ()),
    ]


def test_more_nuclei_than_notes_merge() -> None:
    assert split_syllables(["f", "ay", "er"], 1) == [(("f",), ("ay", "er"), ())]


def test_fewer_nuclei_than_notes_make_a_melisma() -> None:
    result = split_syllables(["f", "ay", "er"], 3)
    assert result[2] is None and result[0] is not None and result[1] is not None


def test_word_split_over_notes_is_joined_before_lookup() -> None:
    s = song([("C4", 0.5, "Jean", "begin"), ("D4", 0.5, "nie", "end")])
    syllables = english_syllables(s.notes, PhonemeDictionary.builtin())
    # looked up as "jeannie" (jh iy n iy); the n goes to the second note's onset
    assert [(x.onset, x.nucleus, x.coda) for x in syllables if x] == [(("jh",), ("iy",), ()), (("n",), ("iy",), ())]


def test_voice_without_a_phoneme_is_a_clear_error(tmp_path: Path) -> None:
    table = (REPO / "phonemes" / "arpabet-en.txt").read_text().splitlines()
    (tmp_path / "en.txt").write_text("\n".join(line for line in table if not line.startswith("ay\t")) + "\n")
    s = song([("C4", 1.0, "fly")])
    with pytest.raises(PhonemeError, match="'ay'") as e:
        score_to_phrases(s, language="en", dictionary=tmp_path / "en.txt")
    assert e.value.code == "voice_lacks_phoneme"
