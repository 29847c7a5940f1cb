"""A song's plan: the score read and phonemized for a voice, ready to render phrase by phrase.

`plan_song` is the first step of both render paths (the CLI's in-process render and the service's
`singer.render` task), so both sing the same phrases. A plan serialises losslessly to JSON: the
service stores it once and every phrase task reads the same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from singer_tasks.errors import SongTooLong
from singer_tasks.phonemize import score_to_phrases
from singer_tasks.phonemize.dictionary import PhonemeDictionary
from singer_tasks.phonemize.options import PhraseOptions
from singer_tasks.phrase import Phrase
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.score.model import Note, Rest, Score
from singer_tasks.score.read import parse_score
from singer_tasks.voices.manifest import VoiceManifest


@dataclass(frozen=True)
class Plan:
    """What the phrase renders and the assembly need: the phrases, the score's length, display data."""

    phrases: list[Phrase]
    score_duration_s: float
    display: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())

    def to_json(self) -> bytes:
        """The plan as JSON bytes, phrases in full precision (not the rounded .ds text)."""
        return json.dumps(
            {
                "scoreDuration": self.score_duration_s,
                "phrases": [p.to_dict() for p in self.phrases],
                "display": self.display,
                "warnings": list(self.warnings),
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Plan:
        """Inverse of `to_json`."""
        raw = json.loads(data)
        return cls(
            [Phrase.from_dict(p) for p in raw["phrases"]],
            float(raw["scoreDuration"]),
            raw["display"],
            tuple(raw.get("warnings", ())),
        )

    @property
    def song_end_s(self) -> float:
        """Where the last phrase ends."""
        return max((p.offset_s + p.duration_s for p in self.phrases), default=0.0)


def display_data(score: Score, phrases: Sequence[Phrase]) -> dict[str, Any]:
    """What the web app draws: notes with lyrics, phonemes with times, a 20 ms f0 curve, and where each bar
    starts with its printed number (the bar ruler; older display JSON has no "bars")."""
    notes = [
        {"onset": round(n.onset_s, 4), "duration": round(n.duration_s, 4), "pitch": n.midi, "lyric": n.lyric}
        for n in score.notes
    ]
    phonemes, f0 = [], []
    for p in phrases:
        t = p.offset_s
        for ph, dur in zip(p.ph_seq, p.ph_dur_s, strict=True):
            phonemes.append({"start": round(t, 4), "duration": round(dur, 4), "phoneme": ph})
            t += dur
        stride = max(1, round(0.02 / p.f0_timestep_s))
        f0 += [
            [round(p.offset_s + i * p.f0_timestep_s, 3), round(p.f0_hz[i], 1)] for i in range(0, len(p.f0_hz), stride)
        ]
    bars = [{"start": round(b.onset_s, 4), "number": b.number} for b in score.bars]
    return {"duration": round(score.duration_s, 4), "notes": notes, "phonemes": phonemes, "f0": f0, "bars": bars}


def phonemizer_dictionary(manifest: VoiceManifest) -> PhonemeDictionary | None:
    """None for the built-in voice (the phonemizer's own inventory); a DiffSinger voice's dictionaries; a
    voicebank's dsdict / dictionary per language (see `singer_tasks.voices.bank_dictionary`). The phonemizer
    refuses a lyric language the dictionary lacks (UnsupportedLanguage, naming the voice's languages)."""
    if manifest.bank is not None:
        from singer_tasks.voices.bank_dictionary import bank_dictionary

        return bank_dictionary(manifest.bank)
    files = manifest.acoustic
    if files is None:
        return None
    paths = {lang: str(path) for lang, path in files.dictionaries.items()}
    return PhonemeDictionary.load_many(paths, prefixed=len(paths) > 1)


def transform_score(score: Score, *, key_shift: int = 0, tempo_factor: float = 1.0) -> Score:
    """`score` transposed by `key_shift` semitones and sung `tempo_factor` times as fast (every onset and
    duration divided by it)."""
    if key_shift == 0 and tempo_factor == 1.0:
        return score
    if tempo_factor <= 0:
        raise ValueError(f"tempo_factor must be positive, got {tempo_factor}")
    scale = 1.0 / tempo_factor
    events: list[Note | Rest] = []
    for event in score.events:
        timed = replace(event, onset_s=event.onset_s * scale, duration_s=event.duration_s * scale)
        events.append(replace(timed, midi=timed.midi + key_shift) if isinstance(timed, Note) else timed)
    bars = tuple(replace(bar, onset_s=bar.onset_s * scale) for bar in score.bars)
    return replace(score, events=tuple(events), bars=bars)


def plan_song(
    data: bytes,
    filename: str,
    manifest: VoiceManifest,
    limits: ScoreLimits,
    *,
    language: str | None = None,
    verse: int | str = 1,
    part: int | str | None = None,
    key_shift: int = 0,
    tempo_factor: float = 1.0,
    first_phrase_s: float = 0.0,
) -> Plan:
    """Read and phonemize a score for a voice; SongTooLong when its phrases run past `limits.max_song_s`.

    verse and part as `parse_score` takes them. key_shift transposes every note by that many semitones;
    tempo_factor sings that many times as fast (2.0: half as long). Both change the score itself before
    phonemizing, so phoneme timing and the pitch curve follow the new notes (no audio resampling).
    first_phrase_s (0: off) cuts the first phrase shorter, for a song played while it renders.
    """
    # The song's length limit applies to what is sung: a score twice too long sung twice as fast is fine
    # (a slower song is measured after the change, below, so the message names its sung length).
    parse_limits = replace(limits, max_song_s=limits.max_song_s * max(1.0, tempo_factor))
    score = parse_score(data, filename, part=part, verse=verse, limits=parse_limits)
    score = transform_score(score, key_shift=key_shift, tempo_factor=tempo_factor)
    options = PhraseOptions(first_phrase_s=first_phrase_s)
    phrases = score_to_phrases(score, language=language, dictionary=phonemizer_dictionary(manifest), options=options)
    plan = Plan(phrases, score.duration_s, display_data(score, phrases), tuple(score.warnings))
    if plan.song_end_s > limits.max_song_s:
        tempo = f" at {tempo_factor:g} times the written tempo" if tempo_factor != 1.0 else ""
        raise SongTooLong(
            f"the song lasts {plan.song_end_s:.0f} s{tempo} and the limit is {limits.max_song_s:.0f} s; "
            "shorten the score or split it" + (", or sing it faster" if tempo else "")
        )
    return plan
