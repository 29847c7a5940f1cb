"""Tunable parameters of phoneme timing, phrase splitting and the pitch curve."""

from __future__ import annotations

from dataclasses import dataclass

from singer_tasks.phrase import DEFAULT_F0_TIMESTEP_S


@dataclass(frozen=True)
class PhraseOptions:
    """Timing, phrasing and pitch parameters (seconds, cents, Hz).

    Consonants: each wants consonant_s; onset consonants take at most borrow_frac of the note (or
    rest_borrow_frac of the rest) before the vowel, codas at most coda_frac of their note.
    Breaths: a breath mark takes breath_s (at most breath_frac of its note) from the note's end.
    Phrases: split at rests of at least split_rest_s, each keeping up to head_pad_s / tail_pad_s of
    the rest as SP; a phrase longer than max_phrase_s is cut at the note onset nearest its limit.
    first_phrase_s (0: off) cuts the song's first phrase shorter, so that it renders, and can be heard,
    within seconds while the rest renders (`phrases.short_first_phrase`).
    Pitch: note-to-note transitions over transition_s; vibrato of vibrato_cents (peak) at vibrato_hz on
    notes of at least vibrato_min_note_s, after vibrato_delay_s, faded in over vibrato_fade_s.
    """

    consonant_s: float = 0.07
    borrow_frac: float = 0.5
    rest_borrow_frac: float = 0.8
    coda_frac: float = 0.3
    breath_s: float = 0.2
    breath_frac: float = 0.4
    split_rest_s: float = 0.25
    head_pad_s: float = 0.3
    tail_pad_s: float = 0.3
    max_phrase_s: float = 20.0
    first_phrase_s: float = 0.0
    transition_s: float = 0.08
    vibrato_cents: float = 20.0
    vibrato_hz: float = 5.5
    vibrato_min_note_s: float = 0.6
    vibrato_delay_s: float = 0.3
    vibrato_fade_s: float = 0.2
    f0_timestep_s: float = DEFAULT_F0_TIMESTEP_S

    def __post_init__(self) -> None:
        for name in ("consonant_s", "max_phrase_s", "f0_timestep_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"PhraseOptions.{name} must be positive")
        if self.first_phrase_s < 0:
            raise ValueError("PhraseOptions.first_phrase_s must be 0 (off) or positive")
        for name in ("borrow_frac", "rest_borrow_frac", "coda_frac", "breath_frac"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"PhraseOptions.{name} must be in [0, 1)")
