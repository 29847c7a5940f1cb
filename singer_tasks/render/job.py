"""The three steps of a render job, as plain functions the tasks in `tasks.py` call.

1. `prepare`: download, parse, phonemize; store the plan (phrases, score length, display data) under
   `intermediate/{jobId}/plan.json`. Deterministic, so a rerun writes the same bytes.
2. `render_one`: one phrase to samples, through the phrase cache.
3. `assemble`: every phrase at its offset (where phrases overlap, the overlap is cross-faded), padded
   to the score's length, as a 16-bit WAV, with the .ds and the display data beside it.

I/O stays here; the pipeline functions below it are pure.
"""

from __future__ import annotations

import dataclasses
import io
import json
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from singer_tasks.kit import ServiceSettings
from singer_tasks.phonemize.dictionary import PhonemeDictionary
from singer_tasks.phrase import Phrase, dumps_ds
from singer_tasks.render import phrase_cache
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.score.model import Score, SongTooLong
from singer_tasks.voices.manifest import VoiceManifest
from taskkit.backends.base import BlobStore


@dataclass(frozen=True)
class Plan:
    """What the phrase tasks and the assembly need, stored once per job."""

    phrases: list[Phrase]
    score_duration_s: float
    display: dict[str, Any]

    def to_json(self) -> bytes:
        # Phrases in full precision (not the rounded .ds text), so every worker sings the same numbers.
        phrases = [phrase_to_dict(p) for p in self.phrases]
        return json.dumps(
            {"scoreDuration": self.score_duration_s, "phrases": phrases, "display": self.display}
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Plan:
        raw = json.loads(data)
        return cls([phrase_from_dict(p) for p in raw["phrases"]], float(raw["scoreDuration"]), raw["display"])


def phrase_to_dict(phrase: Phrase) -> dict[str, Any]:
    """A phrase as JSON-ready data, losslessly (floats keep every digit)."""
    return {f.name: getattr(phrase, f.name) for f in dataclasses.fields(phrase)} | {"extra": dict(phrase.extra)}


def phrase_from_dict(data: dict[str, Any]) -> Phrase:
    """Inverse of `phrase_to_dict`."""
    return Phrase(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def plan_key(job_id: str) -> str:
    """Where a job's plan is stored."""
    return f"intermediate/{job_id}/plan.json"


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono 16-bit PCM WAV bytes."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def display_data(score: Score, phrases: Sequence[Phrase]) -> dict[str, Any]:
    """What the web app draws: notes with lyrics, phonemes with times, and a 20 ms f0 curve."""
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
    return {"duration": round(score.duration_s, 4), "notes": notes, "phonemes": phonemes, "f0": f0}


def _limits(settings: ServiceSettings) -> ScoreLimits:
    base = ScoreLimits.from_env()
    return dataclasses.replace(
        base, max_score_bytes=min(base.max_score_bytes, settings.max_upload_bytes), max_song_s=settings.max_song_seconds
    )


def phonemizer_dictionary(manifest: VoiceManifest) -> PhonemeDictionary | None:
    """None for the built-in voice (the phonemizer's own inventory); a DiffSinger voice's dictionaries."""
    files = manifest.acoustic
    if files is None:
        return None
    paths = {lang: str(path) for lang, path in files.dictionaries.items()}
    return PhonemeDictionary.load_many(paths, prefixed=len(paths) > 1)


def prepare(
    blobs: BlobStore, job: dict[str, Any], settings: ServiceSettings, progress: Callable[[str, float], None]
) -> Plan:
    """Download, parse and phonemize a job's score; store and return its plan."""
    from singer_tasks.phonemize import score_to_phrases
    from singer_tasks.score.read import parse_score
    from singer_tasks.voices.manifest import find_manifest

    progress("download", 0.0)
    data = blobs.get(job["inputPath"])
    progress("parse", 0.0)
    score = parse_score(data, job["inputPath"].rsplit("/", 1)[-1], limits=_limits(settings))
    progress("phonemize", 0.0)
    manifest = find_manifest(job.get("voice") or settings.default_voice)
    phrases = score_to_phrases(score, language=job.get("language"), dictionary=phonemizer_dictionary(manifest))
    song_end = max((p.offset_s + p.duration_s for p in phrases), default=0.0)
    if song_end > settings.max_song_seconds:
        raise SongTooLong(
            f"the song lasts {song_end:.0f} s and the limit is {settings.max_song_seconds:.0f} s; "
            "shorten the score or split it"
        )
    plan = Plan(phrases, score.duration_s, display_data(score, phrases))
    blobs.put(plan_key(job["id"]), plan.to_json(), content_type="application/json")
    return plan


def render_settings(job: dict[str, Any], settings: ServiceSettings) -> dict[str, Any]:
    """Steps and depth for the job's render type (None: the voice's own defaults)."""
    if job.get("renderType") == "preview":
        return {"steps": settings.preview_steps, "depth": None}
    return {"steps": None, "depth": None}


def render_one(
    blobs: BlobStore,
    plan: Plan,
    index: int,
    voice_name: str,
    render: dict[str, Any],
    check_time: Callable[[], None],
) -> tuple[str, int]:
    """Render phrase `index` unless the cache has it; returns its cache key and the sample rate.

    The seed is the phrase's index, as in a single-process render of the whole song, so both give
    the same samples.
    """
    from singer_tasks.voices.runtime import get_voice

    voice = get_voice(voice_name)
    phrase = plan.phrases[index]
    key = phrase_cache.cache_key(
        phrase,
        voice.manifest,
        steps=render["steps"],
        depth=render["depth"],
        seed=index,
        sample_rate=voice.sample_rate,
        precision=str(getattr(voice, "precision", "fp32")),  # the built-in voice has only one
    )
    if not blobs.exists(phrase_cache.blob_key(key)):
        voice.check_phrase(phrase)
        samples = voice.render_phrase(
            phrase, steps=render["steps"], depth=render["depth"], on_step=lambda i, n: check_time(), seed=index
        )
        phrase_cache.store(blobs, key, samples)
    return key, voice.sample_rate


def assemble(plan: Plan, pieces: Sequence[np.ndarray], sample_rate: int) -> np.ndarray:
    """The song: each phrase at its offset (overlaps cross-faded), padded to the score's length."""
    # The same placement as the single-process render (pipeline.render_phrases), so both agree.
    from singer_tasks.render.pipeline import _place

    song = np.zeros(0, np.float32)
    length = 0
    for phrase, piece in zip(plan.phrases, pieces, strict=True):
        song, length = _place(song, length, piece.astype(np.float32), max(0, round(phrase.offset_s * sample_rate)))
    song = song[:length]
    return np.pad(song, (0, max(0, round(plan.score_duration_s * sample_rate) - len(song))))


def outputs(plan: Plan, song: np.ndarray, sample_rate: int) -> dict[str, tuple[str, bytes, str]]:
    """The files a completed job offers: kind -> (file name, bytes, content type)."""
    return {
        "wav": ("output.wav", encode_wav(song, sample_rate), "audio/wav"),
        "ds": ("song.ds", dumps_ds(plan.phrases).encode(), "application/json"),
        "display": ("display.json", json.dumps(plan.display).encode(), "application/json"),
    }
