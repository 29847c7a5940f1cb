"""An OpenUtau DiffSinger voicebank as a `Voice`: phrase -> voicebank request -> the phrase's own timeline.

Mapping a phrase (an openvpi .ds segment, time 0 at its start) onto OpenUtau's request (time 0 at the first
note's vowel):

- phonemes: the phrase's ph_seq; ``lang/ph`` names (a multilingual voice's phonemizer output) give each
  phoneme its language, else the phrase's `lang`; the voicebank resolves them to its own names and ids.
- notes: note_seq / note_dur_s / note_slur. In a .ds segment a note spans its word, from its vowel (the first
  word also holds the consonants the phrase starts with), as OpenUtau's notes do.
- expression ``score``: durations_ms from ph_dur_s and the pitch curve from f0_hz, exactly as written.
- expression ``voice``: durations from dsdur (None in the request), pitch from dspitch; a missing model
  leaves the phrase's value (rules fill in). Request time 0 is then the first word's vowel, so the consonants
  dsdur places before it land inside the phrase; those that would start before the phrase are squeezed into
  the room there is, since a phrase's samples start at its offset.
- speakers: the chosen speaker (a subbank colour or a dsconfig speakers entry) at weight 1.
- curves: the phrase's .ds `energy`/`breathiness`/`voicing`/`tension`/`gender`/`velocity` override.

The waveform comes back on the phrase's timeline: OpenUtau's 8-frame SP pads (and any lead before the phrase)
are cut, and it is cut or zero-padded to `phrase.duration_s` at the voice's sample rate, as the other voices.
Sampling noise follows the phrase's seed (see `seeded_noise`).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from singer_tasks.errors import PhraseFormatError, RenderInputError, VoiceConfigError
from singer_tasks.phrase import Phrase
from singer_tasks.voices.chain import Chain, ChainTrace, Expression, Source, check_expression
from singer_tasks.voices.manifest import VoiceManifest
from singer_tasks.voices.models import StepHook, Voice, fit_length
from singer_tasks.voices.seeded_noise import NoiseInput, SeededNoise, rewrite

_NOTE = re.compile(r"^([A-Ga-g])([#b]*)(-?\d+)([+-]\d+)?$")
_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_CURVES = ("energy", "breathiness", "voicing", "tension")
PAUSES = ("SP", "AP")


def note_midi(name: str) -> float:
    """MIDI key of a .ds note name ("C#4", "Bb3", "A4+25" with cents)."""
    match = _NOTE.match(name.strip())
    if match is None:
        raise PhraseFormatError(f"note_seq holds {name!r}, which is neither a note name like 'C#4' nor 'rest'")
    letter, accidentals, octave, cents = match.groups()
    shift = accidentals.count("#") - accidentals.count("b")
    return 12 * (int(octave) + 1) + _PITCH_CLASS[letter.upper()] + shift + (int(cents) / 100 if cents else 0.0)


def split_phonemes(phrase: Phrase) -> tuple[list[str], list[str | None]]:
    """(phonemes without language prefixes, language of each) from the phrase's ph_seq and lang."""
    names: list[str] = []
    languages: list[str | None] = []
    for ph in phrase.ph_seq:
        lang, sep, bare = ph.partition("/")
        if sep and ph not in PAUSES:
            names.append(bare)
            languages.append(lang)
        else:
            names.append(ph)
            languages.append(phrase.lang)
    return names, languages


class VoicebankVoice(Voice):
    """An OpenUtau DiffSinger voicebank (folder or .zip) on ONNX Runtime."""

    def __init__(self, manifest: VoiceManifest, *, threads: int, cache_dir: Path, vocoder_dir: Path | None) -> None:
        from singer_tasks.voices.voicebank import load_voicebank

        self.manifest = manifest
        self.bank = load_voicebank(
            manifest.folder, threads=threads, cache_dir=cache_dir, vocoder_dir=vocoder_dir, check_graphs=False
        )
        if self.bank.vocoder_path is None:
            raise VoiceConfigError(
                f"{manifest.folder}: no dsvocoder/vocoder.yaml and the vocoder {self.bank.config.vocoder!r} it names "
                f"is not installed (put its folder, holding vocoder.yaml, beside the voicebank)"
            )
        self.noise = self._open_seeded(threads)
        self.bank.check_graphs()  # every other graph now, so a broken one fails at load
        self.sample_rate = self.bank.config.sample_rate
        self.precision = "fp32"
        stages = [s for s, sub in (("duration", self.bank.dur), ("pitch", self.bank.pitch),
                                   ("variance", self.bank.variance)) if sub is not None]  # fmt: skip
        self.chain = Chain((*stages, "acoustic", "vocoder"))

    @property
    def speakers(self) -> tuple[str, ...]:
        """Subbank colours (what OpenUtau users pick), else the dsconfig speakers entries."""
        bank_speakers = self.manifest.bank.speakers if self.manifest.bank is not None else ()
        return bank_speakers or tuple(self.bank.config.speakers or ())

    def _open_seeded(self, threads: int) -> dict[str, tuple[NoiseInput, ...]]:
        """Open the sampling graphs with their noise as inputs (checked like the originals)."""
        from singer_tasks.voices.voicebank import sessions as S

        bank = self.bank
        graphs: list[tuple[str, Path, Any, dict[str, S.InputSpec], tuple[str, ...]]] = [
            ("acoustic", bank.acoustic_path, bank.config, S.acoustic_inputs(bank.config), ())
        ]
        if bank.pitch is not None:
            graphs.append(("pitch", bank.pitch.model_path, bank.pitch.config, S.pitch_inputs(bank.pitch.config),
                           ("pitch_pred",)))  # fmt: skip
        if bank.variance is not None:
            cfg = bank.variance.config
            outs = tuple(f"{n}_pred" for n in cfg.predicted_variances)
            graphs.append(("variance", bank.variance.model_path, cfg, S.variance_inputs(cfg), outs))
        noise: dict[str, tuple[NoiseInput, ...]] = {}
        for kind, path, cfg, specs, outs in graphs:
            graph = rewrite(path)
            if not graph.reproducible:
                continue
            session = S.create_session(graph.model, threads)
            expected = {**specs, **{n.name: S.InputSpec(S.F32, "(seeded noise)") for n in graph.noise}}
            S.check_graph(session, path, cfg.path, expected, outs, cfg.hidden_size)
            bank.set_session(kind, session)
            noise[kind] = graph.noise
        return noise

    def _resolved(self, phrase: Phrase) -> list[str]:
        from singer_tasks.voices.voicebank import builders as B

        names, languages = split_phonemes(phrase)
        return B.resolve_phonemes(names, languages, self.bank.tables.phonemes, self.bank.config.use_lang_id)

    def check_phrase(self, phrase: Phrase) -> None:
        from singer_tasks.voices.voicebank import builders as B

        names, languages = split_phonemes(phrase)
        for cfg, tables in [(self.bank.config, self.bank.tables)] + [
            (sub.config, sub.tables) for sub in (self.bank.dur, self.bank.pitch, self.bank.variance) if sub is not None
        ]:
            B.tokenize(B.resolve_phonemes(names, languages, tables.phonemes, cfg.use_lang_id), tables.phonemes,
                       f"the voicebank's phoneme table {cfg.path}")  # fmt: skip
        for note in phrase.note_seq:
            if note != "rest":
                note_midi(note)

    def render_phrase(
        self, phrase: Phrase, *, steps: int | None = None, depth: float | None = None, on_step: StepHook | None = None,
        seed: int = 0, precision: str | None = None, expression: str | None = None, speaker: str | None = None,
    ) -> np.ndarray:  # fmt: skip
        from singer_tasks.voices.voicebank import render_phrase

        check_expression(expression)
        chosen = self.resolve_expression(expression)
        name = self.resolve_speaker(speaker)
        if on_step is not None:
            on_step(0, 1)
        request, t0_s, sources = self._request(phrase, chosen, name, steps, depth, seed)
        result = render_phrase(self.bank, request)
        if result.waveform is None:
            raise VoiceConfigError(f"{self.manifest.folder}: the voicebank has no usable vocoder")
        if on_step is not None:
            on_step(1, 1)
        self._record(self._trace(result, t0_s, chosen, name, sources))
        # Sample 0 of the phrase is request time -t0; the waveform starts at result.start_ms.
        start = round((-t0_s * 1000.0 - result.start_ms) * self.sample_rate / 1000.0)
        wave = result.waveform
        if start < 0:
            wave = np.concatenate([np.zeros(-start, np.float32), wave])
            start = 0
        return fit_length(wave[start:], round(phrase.duration_s * self.sample_rate)).astype(np.float32)

    def _notes(self, phrase: Phrase, t0_s: float) -> list[Any]:
        from singer_tasks.voices.voicebank import Note

        notes = []
        for i, (name, dur, slur) in enumerate(zip(phrase.note_seq, phrase.note_dur_s, phrase.note_slur, strict=True)):
            rest = name == "rest"
            ms = dur * 1000.0 - (t0_s * 1000.0 if i == 0 else 0.0)
            notes.append(Note(60.0 if rest else note_midi(name), max(ms, 1.0), rest=rest, slur=bool(slur)))
        return notes

    def _first_word_s(self, phrase: Phrase) -> float:
        """Where dsdur's first word starts in the phrase: its first vowel (or the glide before it)."""
        from singer_tasks.voices.voicebank import builders as B

        sub = self.bank.dur
        if sub is None:
            return 0.0
        names = B.resolve_phonemes(*split_phonemes(phrase), sub.tables.phonemes, sub.config.use_lang_id)
        first = B.word_starts(names, sub.dsdict.is_vowel, sub.dsdict.is_glide)[0]
        return float(sum(phrase.ph_dur_s[:first]))

    def _request(
        self, phrase: Phrase, expression: Expression, speaker: str | None, steps: int | None, depth: float | None,
        seed: int,
    ) -> tuple[Any, float, tuple[Source, Source]]:  # fmt: skip
        from singer_tasks.voices.voicebank import PhraseRequest
        from singer_tasks.voices.voicebank.phrase import predict_durations

        predict = expression == "voice" and self.bank.dur is not None
        t0_s = self._first_word_s(phrase) if predict else 0.0
        names, languages = split_phonemes(phrase)
        defaults = self.manifest.defaults
        request = PhraseRequest(
            phonemes=names, notes=self._notes(phrase, t0_s), languages=languages,
            durations_ms=[d * 1000.0 for d in phrase.ph_dur_s], lead_ms=t0_s * 1000.0,
            speakers={speaker: 1.0} if speaker else None, default_speaker=speaker,
            steps_acoustic=steps or defaults.steps or 20,
            depth=depth if depth is not None else (defaults.depth if defaults.depth is not None else 1.0),
            extra_inputs=SeededNoise(self.noise, seed), **_overrides(phrase, t0_s),
        )  # fmt: skip
        durations_from: Source = "score"
        if predict:
            try:
                durations, lead = predict_durations(self.bank, dataclasses.replace(request, durations_ms=None))
            except RenderInputError:
                durations, lead = None, 0.0  # notes and syllables do not pair up: keep the phrase's timing
            if durations is not None:
                durations, lead = _fit_lead(durations, lead, t0_s * 1000.0)
                request = dataclasses.replace(request, durations_ms=list(durations), lead_ms=lead)
                durations_from = "model"
            else:
                request = dataclasses.replace(request, notes=self._notes(phrase, 0.0), lead_ms=0.0)
                t0_s = 0.0
        pitch_from: Source = "model" if expression == "voice" and self.bank.pitch is not None else "score"
        if pitch_from == "score":
            request = dataclasses.replace(request, pitch=self._score_pitch(phrase, request, t0_s))
        return request, t0_s, (durations_from, pitch_from)

    def _score_pitch(self, phrase: Phrase, request: Any, t0_s: float) -> tuple[NDArray[Any], NDArray[Any]]:
        """The phrase's f0 as a MIDI curve in request time (unvoiced stretches bridged; no f0: the notes)."""
        f0 = np.asarray(phrase.f0_hz, dtype=np.float64)
        times = np.arange(len(f0)) * phrase.f0_timestep_s * 1000.0 - t0_s * 1000.0
        voiced = f0 > 0
        if voiced.any():
            return times[voiced], 69.0 + 12.0 * np.log2(f0[voiced] / 440.0)
        from singer_tasks.voices.voicebank import builders as B

        notes = request.notes
        midi = B.fill_rest_midi([n.midi for n in notes], [n.rest for n in notes]).astype(np.float64)
        ends = np.cumsum([n.duration_ms for n in notes])
        starts = ends - np.array([n.duration_ms for n in notes])
        # Steps: each note's pitch held from its start to just before its end.
        return np.column_stack([starts, ends - 1e-3]).reshape(-1), np.repeat(midi, 2)

    def _trace(self, result: Any, t0_s: float, expression: Expression, speaker: str | None,
               sources: tuple[Source, Source]) -> ChainTrace:  # fmt: skip
        from singer_tasks.voices.voicebank.builders import midi_to_hz

        frames = len(result.pitch)
        times = (result.start_ms + result.frame_ms * np.arange(frames)) / 1000.0 + t0_s
        return ChainTrace(
            expression=expression, speaker=speaker,
            durations_s=tuple(float(d) / 1000.0 for d in result.durations_ms), durations_from=sources[0],
            f0_times_s=times.astype(np.float64), f0_hz=midi_to_hz(result.pitch), pitch_from=sources[1],
            curves=dict(result.variances), curves_from="model" if self.bank.variance is not None else "defaults",
        )  # fmt: skip


def _fit_lead(durations: NDArray[np.float64], lead_ms: float, room_ms: float) -> tuple[NDArray[np.float64], float]:
    """Squeeze the predicted leading consonants into the `room_ms` the phrase has before its first vowel."""
    if lead_ms <= room_ms or lead_ms <= 0:
        return durations, lead_ms
    out = np.asarray(durations, dtype=np.float64).copy()
    scale = room_ms / lead_ms
    total = 0.0
    for i in range(len(out)):  # the lead is the first phonemes, summing to lead_ms
        if total >= lead_ms - 1e-9:
            break
        total += out[i]
        out[i] *= scale
    return out, room_ms


def _overrides(phrase: Phrase, t0_s: float) -> dict[str, Any]:
    """The phrase's .ds curves (energy ... tension, gender, velocity) as request curves in request time."""

    def curve(key: str) -> Any:
        value = phrase.extra.get(key)
        if value is None:
            return None
        if isinstance(value, (int, float)):
            return float(value)
        points = np.array([float(x) for x in (value.split() if isinstance(value, str) else value)])
        step = float(phrase.extra.get(f"{key}_timestep", phrase.f0_timestep_s)) * 1000.0
        return np.arange(len(points)) * step - t0_s * 1000.0, points

    out: dict[str, Any] = {}
    variances = {k: c for k in _CURVES if (c := curve(k)) is not None}
    if variances:
        out["variances"] = variances
    for key in ("gender", "velocity"):
        if (c := curve(key)) is not None:
            out[key] = c
    return out
