"""Parse + phonemize time for a 3-minute song in each language the built-in voice sings.

Each song is one line of real lyrics in its language, one syllable per quarter note at 120 bpm, its
words repeated until the song lasts 180 s (360 syllables), without xml:lang, so the time includes the
language detection. Prints the CPU model and, per language, the first run (imports, the detector's
model, dictionaries) and the median of the warm runs. Asserts nothing about time.
Run: `python -m benchmarks scores` or `python -m benchmarks.bench_scores`.
"""

from __future__ import annotations

import platform
import statistics
import time

from benchmarks.machine import cpu_line
from tests.singer_tasks.fixtures.scores.realworld import sentence_song

SECONDS = 180.0
RUNS = 3
LINES: dict[str, str] = {
    "en": "Twin-kle twin-kle lit-tle star how I won-der what you are up a-bove the world so high",
    "de": "Am Brun-nen vor dem To-re da steht ein Lin-den-baum ich träumt in sei-nem Schat-ten so man-chen Traum",
    "it": "La don-na è mo-bi-le qual piu-ma al ven-to mu-ta d'ac-cen-to e di pen-sie-ro",
    "la": "Glo-ri-a in ex-cel-sis De-o et in ter-ra pax ho-mi-ni-bus bo-nae vo-lun-ta-tis",
    "fr": "Au clair de la lu-ne mon a-mi Pier-rot prê-te moi ta plu-me pour é-cri-re un mot",
    "es": "De co-lo-res se vis-ten los cam-pos en la pri-ma-ve-ra de co-lo-res son los pa-ja-ri-llos",
    "haw": "A-lo-ha \u02bbo-e a-lo-ha \u02bbo-e e ke o-na-o-na no-ho i ka li-po",
    "zh": "zhu4 ni3 sheng1 ri4 kuai4 le4 zhu4 ni3 sheng1 ri4 kuai4 le4",
    "ja": "さ-く-ら さ-く-ら や-よ-い の そ-ら は み-わ-た-す か-ぎ-り",
}


def song(line: str) -> bytes:
    """MusicXML bytes: the line's words (syllables split at hyphens) repeated to SECONDS at 120 bpm."""
    words = [w.split("-") for w in line.split()]
    per_line = sum(len(w) for w in words)
    target = int(SECONDS * 2)  # quarter notes at 120 bpm
    repeated = (words * (target // per_line + 1))[:]
    out, count = [], 0
    for word in repeated:
        if count + len(word) > target:
            break
        out.append(word)
        count += len(word)
    return sentence_song(out)


def main() -> None:
    """Print parse and phonemize timings per language."""
    from singer_tasks.phonemize import resolve_language, score_to_phrases
    from singer_tasks.score.read import parse_score

    print(f"CPU: {cpu_line()}; Python {platform.python_version()}")
    print(
        f"{'lang':5} {'song s':>7} {'notes':>6} {'first parse':>12} {'first phon':>11} {'parse':>8} {'phonemize':>10}"
    )
    for lang, line in LINES.items():
        data = song(line)
        firsts: list[tuple[float, float]] = []
        parse_s: list[float] = []
        phon_s: list[float] = []
        for run in range(RUNS + 1):
            t0 = time.perf_counter()
            score = parse_score(data, f"{lang}.musicxml")
            t1 = time.perf_counter()
            phrases = score_to_phrases(score, language=None)
            t2 = time.perf_counter()
            if run == 0:
                firsts.append((t1 - t0, t2 - t1))
            else:
                parse_s.append(t1 - t0)
                phon_s.append(t2 - t1)
        detected = resolve_language(None, score)
        assert detected == lang, f"{lang} detected as {detected}"
        assert phrases
        first_parse, first_phon = firsts[0]
        print(
            f"{lang:5} {score.duration_s:7.1f} {len(score.notes):6d} {first_parse:11.3f}s {first_phon:10.3f}s "
            f"{statistics.median(parse_s):7.3f}s {statistics.median(phon_s):9.3f}s"
        )


if __name__ == "__main__":
    main()
