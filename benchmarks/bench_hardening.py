"""Heavy scores against the parse budget (prints figures, asserts nothing about time).

Prints the CPU model, the largest score (in notes) the parse stage reads within its budget (one sung
part up to SINGER_MAX_NOTES, then a voice plus accompaniment up to SINGER_MAX_PARSE_NOTES), and how
long refusing a 60,000-note .mxl takes (counted before music21 runs).
Run: `python -m benchmarks.bench_hardening`.
"""

from __future__ import annotations

import io
import time
import zipfile

from benchmarks.machine import cpu_line
from singer_tasks.errors import ScoreTooLarge
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.settings import SingerSettings

PITCHES = ("C", "D", "E", "F", "G", "A", "B")
WORDS = ("la", "li", "lo", "lu", "na", "ni", "no", "ri")


def _part(part_id: str, notes: int, *, lyrics: bool) -> str:
    measures = []
    for b in range(max(1, notes // 4)):
        body = ""
        if b == 0:
            body += (
                "<attributes><divisions>4</divisions><key><fifths>0</fifths></key>"
                "<time><beats>4</beats><beat-type>4</beat-type></time></attributes>"
                '<direction><sound tempo="120"/></direction>'
            )
        for i in range(4):
            k = (b * 7 + i * 3 + b // 5) % len(PITCHES)
            lyric = f"<lyric><syllabic>single</syllabic><text>{WORDS[(k + b) % len(WORDS)]}</text></lyric>"
            body += (
                f"<note><pitch><step>{PITCHES[k]}</step><octave>4</octave></pitch><duration>4</duration>"
                f"<voice>1</voice>{lyric if lyrics else ''}</note>"
            )
        measures.append(f'<measure number="{b + 1}">{body}</measure>')
    return f'<part id="{part_id}">{"".join(measures)}</part>'


def score(voice_notes: int, accompaniment_notes: int = 0) -> bytes:
    """A partwise score: a sung part, and optionally a lyric-less accompaniment part."""
    parts = [("P1", "Voice", voice_notes, True)]
    if accompaniment_notes:
        parts.append(("P2", "Piano", accompaniment_notes, False))
    part_list = "".join(f'<score-part id="{i}"><part-name>{n}</part-name></score-part>' for i, n, _, _ in parts)
    body = "".join(_part(i, count, lyrics=lyr) for i, _, count, lyr in parts)
    return f'<score-partwise version="4.0"><part-list>{part_list}</part-list>{body}</score-partwise>'.encode()


def mxl(xml: bytes) -> bytes:
    buf = io.BytesIO()
    container = (
        '<?xml version="1.0" encoding="UTF-8"?><container><rootfiles>'
        '<rootfile full-path="score.musicxml"/></rootfiles></container>'
    )
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("META-INF/container.xml", container)
        z.writestr("score.musicxml", xml)
    return buf.getvalue()


def timed_parse(data: bytes, filename: str, limits: ScoreLimits) -> tuple[float, str]:
    """Seconds to parse (or refuse) a score, and the outcome."""
    from singer_tasks.score.read import parse_score

    started = time.perf_counter()
    try:
        parsed = parse_score(data, filename, limits=limits)
        outcome = f"read, {len(parsed.notes):,} sung notes"
    except ScoreTooLarge as e:
        # Refusals by length of song come after music21 has read the score: the parse cost was paid.
        read = e.code != "score_too_large"
        outcome = f"{'read, then ' if read else ''}refused ({e.code}): {str(e)[:70]}"
    return time.perf_counter() - started, outcome


def main() -> None:
    settings = SingerSettings.from_env()
    limits = ScoreLimits.from_settings(settings)
    print(f"CPU: {cpu_line()}")
    print(
        f"limits: {limits.max_notes:,} sung notes a part, {limits.max_xml_notes:,} notes a file, "
        f"parse budget {limits.parse_budget_s:g} s"
    )
    timed_parse(score(8), "warm-up.musicxml", limits)  # imports music21
    largest = 0
    for voice, piano in (
        (limits.max_notes // 4, 0),
        (limits.max_notes // 2, 0),
        (limits.max_notes, 0),
        (limits.max_notes, min(limits.max_notes, limits.max_xml_notes - limits.max_notes)),
    ):
        seconds, outcome = timed_parse(mxl(score(voice, piano)), "song.mxl", limits)
        total = voice + piano
        within = seconds <= limits.parse_budget_s and outcome.startswith("read")
        largest = max(largest, total) if within else largest
        print(f"  {total:>7,} notes ({voice:,} sung + {piano:,} accompaniment): {seconds:7.2f} s  {outcome}")
    print(f"largest score read within the {limits.parse_budget_s:g} s parse budget: {largest:,} notes")
    heavy = mxl(score(60_000))
    seconds, outcome = timed_parse(heavy, "heavy.mxl", ScoreLimits.from_settings(settings))
    print(f"refusing a 60,000-note file ({len(heavy) // 1024} KB .mxl): {seconds * 1000:.0f} ms  {outcome[:90]}")


if __name__ == "__main__":
    main()
