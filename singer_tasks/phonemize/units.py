"""The unit the language front-ends hand to timing: the phonemes one sung note starts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from singer_tasks.score.model import Note


@dataclass(frozen=True)
class Syllable:
    """Phonemes (voice names) of the syllable a note starts.

    onset: consonants sung before the note's onset; nucleus: from the vowel that starts on the onset
    to the last vowel of the syllable (more than one vowel when a word has more vowel nuclei than
    notes); coda: consonants after it, sung at the end of the syllable's last note.
    """

    onset: tuple[str, ...]
    nucleus: tuple[str, ...]
    coda: tuple[str, ...] = ()

    @property
    def phonemes(self) -> tuple[str, ...]:
        """All phonemes in order."""
        return self.onset + self.nucleus + self.coda


def words_of(notes: Sequence[Note]) -> list[list[int]]:
    """Indices of syllable-bearing notes grouped into words by their syllabic marks."""
    words: list[list[int]] = []
    open_word = False
    for i, note in enumerate(notes):
        if note.melisma or note.lyric is None:
            continue
        if open_word and note.syllabic in ("middle", "end"):
            words[-1].append(i)
        else:
            words.append([i])
        open_word = note.syllabic in ("begin", "middle")
    return words
