"""Voice samples: a few seconds of each voice singing a short built-in score, rendered once per voice version.

The API never loads a voice, so `GET /v1/voices/{name}/sample` sends `singer.voice_sample` (task id
`voice-sample-{name}-{version}`: a second request for the same version is a duplicate) and answers 202
until the WAV exists at `voice_sample_key(name, version)`; then it redirects to a signed URL. The version
(`api/routes/voices.py`) follows the voice's files, so replacing a voice renders a new sample.
"""

from __future__ import annotations

from typing import Any

import structlog

import taskkit
from singer_tasks.errors import SingerError
from singer_tasks.kit import RENDER_TOPIC, kit
from singer_tasks.render.assembly import encode_wav
from singer_tasks.render.pipeline import render_phrases
from singer_tasks.render.plan import plan_song
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.settings import get_settings
from singer_tasks.voices.loader import get_voice, resolve_manifest

SAMPLE_TASK = "singer.voice_sample"
log = structlog.get_logger("singer.samples")

# Syllables each language's phonemizer reads; anything else sings "la" (European spelling rules, English).
_LYRICS = {
    "zh": ["你", "好", "啊", "啦", "啦", "啦", "啦", "啊"],
    "ja": ["こ", "ん", "に", "ち", "は", "ら", "ら", "ら"],
    "en": ["hel", "lo", "sing", "a", "long", "with", "me", "now"],
}
_SYLLABIC = {"en": ["begin", "end", "single", "single", "single", "single", "single", "single"]}
_MELODY = [("C", 4), ("D", 4), ("E", 4), ("G", 4), ("E", 4), ("D", 4), ("C", 4), ("C", 4)]


def sample_score(language: str) -> bytes:
    """Two bars of quarter notes at 120 bpm (4 s) with lyrics in `language`, then a rest."""
    lyrics = _LYRICS.get(language, ["la"] * len(_MELODY))
    syllabic = _SYLLABIC.get(language, ["single"] * len(_MELODY))
    notes = [
        f"<note><pitch><step>{step}</step><octave>{octave}</octave></pitch><duration>4</duration><type>quarter</type>"
        f'<lyric xml:lang="{language}"><syllabic>{syllabic[i]}</syllabic><text>{lyrics[i]}</text></lyric></note>'
        for i, (step, octave) in enumerate(_MELODY)
    ]
    head = (
        "<attributes><divisions>4</divisions><time><beats>4</beats><beat-type>4</beat-type></time></attributes>"
        '<direction><sound tempo="120"/></direction>'
    )
    rest = "<note><rest/><duration>16</duration><type>whole</type></note>"
    measures = (
        f'<measure number="1">{head}{"".join(notes[:4])}</measure>'
        f'<measure number="2">{"".join(notes[4:])}</measure><measure number="3">{rest}</measure>'
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><score-partwise version="4.0"><part-list><score-part id="P1">'
        f'<part-name>Voice</part-name></score-part></part-list><part id="P1">{measures}</part></score-partwise>'
    ).encode()


def render_sample(voice_name: str, language: str | None = None) -> tuple[bytes, int]:
    """The sample's WAV bytes and sample rate, sung in `language` (default: the voice's first)."""
    settings = get_settings()
    manifest = resolve_manifest(voice_name, settings.voices_dir, kit.blobs)
    lang = language or (manifest.languages[0] if manifest.languages else "en")
    plan = plan_song(sample_score(lang), "sample.musicxml", manifest, ScoreLimits.from_settings(settings),
                     language=lang)  # fmt: skip
    voice = get_voice(voice_name, settings.voices_dir, kit.blobs)
    song = render_phrases(plan.phrases, voice, min_duration_s=plan.score_duration_s)
    return encode_wav(song, voice.sample_rate), voice.sample_rate


@kit.task(name=SAMPLE_TASK, topic=RENDER_TOPIC, max_attempts=3, min_backoff_s=5.0, max_backoff_s=60.0,
          time_limit_s=min(300.0, get_settings().render_time_limit_s))  # fmt: skip
def voice_sample(voice: str, key: str) -> dict[str, Any]:
    """Render the voice's sample and store it at `key` (the API chose it from the voice's version)."""
    if kit.blobs.exists(key):
        return {"key": key, "cached": True}
    try:
        data, rate = render_sample(voice)
    except SingerError as e:
        raise taskkit.Reject(f"voice {voice!r} cannot sing its sample: {e}", code=e.code) from e
    kit.blobs.put(key, data, content_type="audio/wav")
    log.info("voice.sample", voice=voice, key=key, bytes=len(data))
    return {"key": key, "sampleRate": rate}
