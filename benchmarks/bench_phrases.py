"""Parse + phonemize time for a ~3-minute song (prints figures, asserts nothing about time).

The song is a real lead sheet from music21's offline corpus (Foster, "Jeanie with the Light Brown
Hair"), its measures written out three times over (repeat barlines dropped) to last about 3.5 min.
Run: `python -m benchmarks.bench_phrases`.
"""

from __future__ import annotations

import copy
import io
import statistics
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

SOURCE = "leadSheet/fosterBrownHair.mxl"
COPIES = 3
RUNS = 3


def three_minute_song() -> bytes:
    """MusicXML bytes: the source's single part with its measures repeated COPIES times."""
    import music21

    path = Path(music21.__file__).parent / "corpus" / SOURCE
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if not n.startswith("META-INF") and n.endswith(("xml", "musicxml")))
        root = ET.fromstring(z.read(name))
    part = root.find("part")
    assert part is not None
    measures = part.findall("measure")
    for m in measures:
        for barline in m.findall("barline"):
            m.remove(barline)  # written out instead of repeated
    number = len(measures)
    for _ in range(COPIES - 1):
        for m in measures:
            clone = copy.deepcopy(m)
            number += 1
            clone.set("number", str(number))
            part.append(clone)
    buf = io.BytesIO()
    ET.ElementTree(root).write(buf, encoding="utf-8", xml_declaration=True)
    return buf.getvalue()


def main() -> None:
    """Print first-run (loads music21, the CMU dictionary, g2p weights) and warm timings."""
    from singer_tasks.phonemize import PhonemeDictionary, score_to_phrases
    from singer_tasks.score.read import parse_score

    data = three_minute_song()
    parse_s: list[float] = []
    phon_s: list[float] = []
    for _ in range(RUNS):
        t1 = time.perf_counter()
        score = parse_score(data, "bench.musicxml")
        t2 = time.perf_counter()
        phrases = score_to_phrases(score, language="en", dictionary=PhonemeDictionary.builtin())
        t3 = time.perf_counter()
        parse_s.append(t2 - t1)
        phon_s.append(t3 - t2)
    song_s = score.duration_s
    print(f"bench_phrases: {SOURCE} x{COPIES}: {song_s:.0f} s song, {len(score.notes)} notes, {len(phrases)} phrases")
    print(f"  first run (cold caches): parse {parse_s[0]:.3f} s + phonemize {phon_s[0]:.3f} s")
    print(
        f"  warm median: parse {statistics.median(parse_s[1:]):.3f} s, phonemize {statistics.median(phon_s[1:]):.3f} s"
    )
    total = statistics.median(parse_s[1:]) + statistics.median(phon_s[1:])
    print(f"  parse + phonemize warm: {total:.3f} s = {total / song_s * 1000:.1f} ms per second of song")


if __name__ == "__main__":
    main()
