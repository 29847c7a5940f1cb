"""OpenUtau DiffSinger voicebanks driven with ONNX Runtime, fed exactly what OpenUtau feeds (torch-free).

Loading::

    bank = load_voicebank(path, threads=quota, cache_dir=cache, vocoder_dir=None, check_graphs=True)

`path` is a folder or a downloaded .zip (extracted safely under `cache_dir`); the bank is the folder holding
character.txt. Read: character.txt/.yaml (`singer_type: diffsinger` required), the root dsconfig.yaml (acoustic),
dsdur/ dspitch/ dsvariance/ (each optional: dsconfig.yaml, dsdict[-<lang>].yaml, phonemes, languages, `.emb` speakers,
dictionary.txt), dsvocoder/vocoder.yaml (else the vocoder named by `vocoder` under `vocoder_dir`). Anything missing,
ill-typed, or a graph whose inputs/outputs differ from what its config implies raises VoiceConfigError naming the
file and the key. Unknown keys are ignored as OpenUtau ignores them, except near-misses of known keys
(``use_energy_embeds``), which are refused. Sessions: CPU, `threads` intra-op, 1 inter-op, sequential, created
once per graph (at load with `check_graphs`, else at first use): ``bank.session(kind)`` for kind in
acoustic, vocoder, dur.linguistic, dur, pitch.linguistic, pitch, variance.linguistic, variance.

Graphs (numpy in, numpy out, no batch axis): `run_linguistic`, `run_dur`, `run_pitch`, `run_variance`,
`run_acoustic`, `run_vocoder` (module graphs).

Builders (module builders, notes): `padded_phone_durations` (SP pads of 8 frames, round-half-even(cum ms / frame
ms + 0.5) differences), `padded_tokens`, `resolve_phonemes` / `language_ids` (``ja/a`` prefixes, ids),
`word_div_and_dur` (pitch/variance encoders: a word per vowel), `dur_words` + `align_durations` (duration model:
a word per note), `pitch_notes` (leading/trailing rest notes, rests take the nearest pitch), `mix_speakers`
(voice-colour weights per frame or token), `sampling_settings` (depth = min(depth, max_depth); DDPM speedup),
`gender_from_genc`, `velocity_from_velc`, `rescale_mel_base`, `midi_to_hz`.

Phrase entry point::

    result = render_phrase(bank, PhraseRequest(
        phonemes=["b", "a", ...], notes=[Note(midi=60, duration_ms=250), Note(64, 150, rest=True), ...],
        durations_ms=None,            # None: predicted with dsdur and aligned to the notes
        languages=None, pitch=None,   # pitch: (times_ms, midi) curve; None: dspitch (or the note steps)
        speakers={"spk1": 0.4},       # weights (constants or curves); the default speaker takes the rest
        steps_acoustic=20, steps_pitch=10, steps_variance=20, depth=1.0))
    result.durations_ms, result.pitch, result.variances, result.mel, result.waveform

Times are ms from the first note's start; a curve is a constant or (times_ms, values).
"""

from singer_tasks.voices.voicebank.builders import Note
from singer_tasks.voices.voicebank.graphs import (
    run_acoustic,
    run_dur,
    run_linguistic,
    run_pitch,
    run_variance,
    run_vocoder,
)
from singer_tasks.voices.voicebank.loader import GRAPH_KINDS, SubModel, Tables, Voicebank, load_voicebank
from singer_tasks.voices.voicebank.phrase import PhraseRequest, PhraseResult, render_phrase
from singer_tasks.voices.voicebank.sessions import create_session

__all__ = [
    "GRAPH_KINDS",
    "Note",
    "PhraseRequest",
    "PhraseResult",
    "SubModel",
    "Tables",
    "Voicebank",
    "create_session",
    "load_voicebank",
    "render_phrase",
    "run_acoustic",
    "run_dur",
    "run_linguistic",
    "run_pitch",
    "run_variance",
    "run_vocoder",
]
