"""The three steps of a render job on a blob store, as plain functions the tasks in `tasks.py` call.

1. `prepare`: download, `plan_song`, store the plan under `intermediate/{jobId}/plan.json`
   (deterministic, so a rerun writes the same bytes).
2. `render_one`: one phrase through the phrase cache (`pipeline.sing_phrase` on a miss).
3. `assemble_outputs`: the cached phrases through `assembly.assemble`, as the WAV, the .ds and the
   display data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from singer_tasks.jobs import model
from singer_tasks.phrase import dumps_ds
from singer_tasks.render import phrase_cache
from singer_tasks.render.assembly import assemble, encode_wav
from singer_tasks.render.encode import FLAC_TYPE, encode_flac, encode_listening
from singer_tasks.render.pipeline import RenderOptions, sing_phrase
from singer_tasks.render.plan import Plan, plan_song
from singer_tasks.score.info import read_score_info, verse_argument
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.settings import SingerSettings
from singer_tasks.voices.chain import check_expression
from singer_tasks.voices.loader import get_voice, resolve_manifest
from taskkit.backends.base import BlobStore

# Named once in the torch-free job model, which the API uses to delete a job's files.
INTERMEDIATE_PREFIX = model.INTERMEDIATE_PREFIX
OUTPUT_PREFIX = model.OUTPUT_PREFIX


def plan_key(job_id: str) -> str:
    """Where a job's plan is stored."""
    return f"{INTERMEDIATE_PREFIX}/{job_id}/plan.json"


def output_prefix(job_id: str) -> str:
    """The folder of a job's outputs."""
    return f"{OUTPUT_PREFIX}/{job_id}"


def prepare(
    blobs: BlobStore,
    job_id: str,
    input_path: str,
    voice: str,
    language: str | None,
    settings: SingerSettings,
    progress: Callable[[str, float], None],
    *,
    filename: str | None = None,
    key_shift: int = 0,
    tempo_factor: float = 1.0,
    verse: str | None = None,
    part: str | None = None,
) -> Plan:
    """Download, parse and phonemize a job's score with the job's options (transposed by `key_shift`
    semitones, `tempo_factor` times as fast, the lyric line labelled `verse`, the part with MusicXML id
    `part`); store and return its plan. Errors name `filename`, the user's own file name."""
    progress("download", 0.0)
    data = blobs.get(input_path)
    progress("parse", 0.0)
    manifest = resolve_manifest(voice, settings.voices_dir, blobs)
    name = filename or input_path.rsplit("/", 1)[-1]
    limits = ScoreLimits.from_settings(settings)
    # A number label ("2") is a position for parse_score: the score's own labels say which.
    line = 1 if verse is None else verse_argument(read_score_info(data, name, limits), verse, part)
    plan = plan_song(data, name, manifest, limits, language=language, verse=line, part=part, key_shift=key_shift,
                     tempo_factor=tempo_factor, first_phrase_s=settings.first_phrase_s)  # fmt: skip
    blobs.put(plan_key(job_id), plan.to_json(), content_type="application/json")
    return plan


def render_options(
    render_type: str, settings: SingerSettings, *, expression: str | None = None, speaker: str | None = None
) -> RenderOptions:
    """Steps and depth for a render type (None: the voice's own defaults), with the job's expression
    (voice / score; None: the voice's own where it has timing or pitch models) and speaker."""
    steps = settings.preview_steps if render_type == "preview" else None
    return RenderOptions(steps=steps, expression=check_expression(expression), speaker=speaker or None)


def render_one(
    blobs: BlobStore,
    plan: Plan,
    index: int,
    voice_name: str,
    options: RenderOptions,
    settings: SingerSettings,
    check_time: Callable[[], None],
) -> tuple[str, int]:
    """Render phrase `index` unless the cache has it; returns its cache key and the sample rate."""
    voice = get_voice(voice_name, settings.voices_dir, blobs)
    phrase = plan.phrases[index]
    # The cache key holds what the render really uses: `voice` on a voice without timing or pitch models
    # sings the score, and no speaker means the voice's first.
    options = replace(options, expression=voice.resolve_expression(options.expression),
                      speaker=voice.resolve_speaker(options.speaker))  # fmt: skip
    key = phrase_cache.cache_key(phrase, voice.manifest, options=options, seed=index,
                                 sample_rate=voice.sample_rate, precision=voice.precision)  # fmt: skip
    if not blobs.exists(phrase_cache.blob_key(key)):
        voice.check_phrase(phrase)
        samples = sing_phrase(voice, phrase, index, options, on_step=lambda i, n: check_time())
        phrase_cache.store(blobs, key, samples)
    return key, voice.sample_rate


def assemble_outputs(
    plan: Plan, pieces: Sequence[np.ndarray], sample_rate: int
) -> tuple[float, dict[str, tuple[str, bytes, str]]]:
    """The song's length in seconds and the files a completed job offers: kind -> (name, bytes, type).

    wav (16-bit PCM), flac (the same PCM, lossless), listen (a compressed file: song.mp3), ds, display.
    """
    song = assemble(plan.phrases, pieces, sample_rate, min_duration_s=plan.score_duration_s)
    listen, ext, listen_type = encode_listening(song, sample_rate)
    files: dict[str, tuple[str, bytes, str]] = {
        "wav": ("output.wav", encode_wav(song, sample_rate), "audio/wav"),
        "flac": ("song.flac", encode_flac(song, sample_rate), FLAC_TYPE),
        "listen": (f"song.{ext}", listen, listen_type),
        "ds": ("song.ds", dumps_ds(plan.phrases).encode(), "application/json"),
        "display": ("display.json", json.dumps(plan.display).encode(), "application/json"),
    }
    return len(song) / sample_rate, files
