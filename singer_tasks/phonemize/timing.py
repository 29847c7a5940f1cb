"""Phoneme timing: the song as a sequence of words with timed phonemes.

A word (openvpi's ph_num unit) starts where its note's vowel starts, on the note onset, and runs to
the next word: its vowel(s), its coda, then the next word's onset consonants, which so take their time
from the end of this note or rest (within bounds). A melisma extends the vowel over slurred notes;
rests are SP words and breath marks AP words cut from the end of their note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from singer_tasks.phonemize.dictionary import BREATH, SILENCE
from singer_tasks.phonemize.options import PhraseOptions
from singer_tasks.phonemize.units import Syllable
from singer_tasks.score.model import Rest, Score

IsVowel = Callable[[str], bool]


@dataclass(frozen=True)
class Slot:
    """A note (midi set) or a silence (midi None) of the sung line, absolute seconds."""

    start_s: float
    end_s: float
    midi: float | None


@dataclass
class Word:
    """One ph_num unit: phonemes with absolute boundaries, and the note slots it spans.

    bounds_s has len(phonemes) + 1 entries; bounds_s[0] == start_s and bounds_s[-1] == end_s.
    kind is "note", SP or AP. A song's first word, when sung, starts with its own onset consonants:
    no earlier note or rest can lend them time.
    """

    kind: str
    slots: list[Slot]
    syllable: Syllable | None = None
    phonemes: list[str] = field(default_factory=list)
    bounds_s: list[float] = field(default_factory=list)

    @property
    def start_s(self) -> float:
        """Where the word starts (its vowel onset, or the rest's start)."""
        return self.slots[0].start_s

    @property
    def end_s(self) -> float:
        """Where the next word starts."""
        return self.slots[-1].end_s


def build_words(
    score: Score, syllables: Sequence[Syllable | None], options: PhraseOptions, is_vowel: IsVowel
) -> list[Word]:
    """The whole song as timed words; `syllables` has one entry per note of `score.notes`."""
    words = _group(score, syllables, options)
    if words and words[-1].kind == "note":  # end on silence so the last consonants and release fit
        end = words[-1].end_s
        words.append(Word(SILENCE, [Slot(end, end + options.tail_pad_s, None)]))
    for i, word in enumerate(words):
        following = words[i + 1].syllable if i + 1 < len(words) else None
        onset = following.onset if following else ()
        _time_word(word, onset, first=i == 0, options=options, is_vowel=is_vowel)
    return words


def _group(score: Score, syllables: Sequence[Syllable | None], options: PhraseOptions) -> list[Word]:
    words: list[Word] = []
    note_index = 0
    for event in score.events:
        if isinstance(event, Rest):
            _add_silence(words, SILENCE, event.onset_s, event.end_s)
            continue
        syllable = syllables[note_index]
        note_index += 1
        end = event.end_s
        breath = min(options.breath_s, options.breath_frac * event.duration_s) if event.breath_after else 0.0
        slot = Slot(event.onset_s, end - breath, event.midi)
        if syllable is not None:
            words.append(Word("note", [slot], syllable))
        elif words and words[-1].kind == "note":
            words[-1].slots.append(slot)
        else:  # nothing to continue (a lyric with no sounds after a rest): leave it silent
            _add_silence(words, SILENCE, slot.start_s, slot.end_s)
        if breath > 0:
            _add_silence(words, BREATH, end - breath, end)
    return words


def _add_silence(words: list[Word], kind: str, start_s: float, end_s: float) -> None:
    if end_s <= start_s:
        return
    if words and words[-1].kind == kind:
        words[-1].slots.append(Slot(start_s, end_s, None))
    else:
        words.append(Word(kind, [Slot(start_s, end_s, None)]))


def _time_word(
    word: Word, next_onset: Sequence[str], *, first: bool, options: PhraseOptions, is_vowel: IsVowel
) -> None:
    length = word.end_s - word.start_s
    # a rest lends most of itself to the next consonants; a note or a breath keeps at least half
    frac = options.rest_borrow_frac if word.kind == SILENCE else options.borrow_frac
    tail = _share(len(next_onset), options.consonant_s, frac * length)
    own_onset = word.syllable.onset if (first and word.syllable) else ()
    head = _share(len(own_onset), options.consonant_s, options.borrow_frac * (length - sum(tail)))
    if word.syllable is None:
        body_phonemes: list[str] = [word.kind]
        body = [length - sum(tail) - sum(head)]
    else:
        body_phonemes = [*word.syllable.nucleus, *word.syllable.coda]
        body = _body(word.syllable, length - sum(tail) - sum(head), options, is_vowel)
    word.phonemes = [*own_onset, *body_phonemes, *next_onset]
    t = word.start_s
    word.bounds_s = [t]
    for d in [*head, *body, *tail]:
        t += d
        word.bounds_s.append(t)
    word.bounds_s[-1] = word.end_s  # exact tiling despite float sums


def _share(count: int, each_s: float, budget_s: float) -> list[float]:
    """`count` consonants of each_s, scaled down together to fit the budget."""
    if count == 0:
        return []
    each = min(each_s, max(budget_s, 0.0) / count)
    return [each] * count


def _body(syllable: Syllable, length: float, options: PhraseOptions, is_vowel: IsVowel) -> list[float]:
    """Durations of nucleus + coda filling `length`: coda consonants at the end, the first vowel
    longest, later vowels of a merged nucleus shorter, consonants between them short."""
    coda = _share(len(syllable.coda), options.consonant_s, options.coda_frac * length)
    rest = length - sum(coda)
    inner = syllable.nucleus[1:]
    if not inner:
        return [rest, *coda]
    # which of the nucleus' later phonemes are consonants: those between vowels of a merged word
    weights = [2.0] + [1.0 if is_vowel(p) else 0.0 for p in inner]
    consonants = sum(1 for w in weights if w == 0.0)
    cons_each = min(options.consonant_s, 0.1 * rest)
    vowel_time = rest - consonants * cons_each
    total_w = sum(weights)
    return [vowel_time * w / total_w if w else cons_each for w in weights] + coda
