"""The piano roll's bar ruler: the display data says where each measure of the sung part starts (in
seconds on the song's timeline, after the tempo factor) and its number as printed."""

from __future__ import annotations

import json

import pytest

from singer_tasks.render.plan import Plan, plan_song
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.voices.loader import get_voice
from tests.singer_tasks.fixtures.scores.xmlbuild import measure, note, rest, tempo, voice_score

# Three bars of 4/4 at 120 bpm: two seconds each.
THREE_BARS = voice_score(
    [
        measure(1, tempo(120), note("C4", 8, "one"), note("D4", 8, "two")),
        measure(2, note("E4", 16, "three")),
        measure(3, note("G4", 12, "four"), rest(4)),
    ]
)


def plan(data: bytes = THREE_BARS, **options: object) -> Plan:
    return plan_song(data, "bars.musicxml", get_voice("builtin").manifest, ScoreLimits(), **options)  # type: ignore[arg-type]


def bars(p: Plan) -> list[dict[str, object]]:
    # Through the JSON the web app reads, so what is checked is what it gets.
    shown: list[dict[str, object]] = json.loads(json.dumps(p.display))["bars"]
    return shown


def test_each_bar_starts_where_its_measure_does_numbered_as_printed() -> None:
    shown = bars(plan())
    assert [b["number"] for b in shown] == ["1", "2", "3"]
    assert [b["start"] for b in shown] == pytest.approx([0.0, 2.0, 4.0], abs=1e-3)
    assert plan().display["duration"] == pytest.approx(6.0, abs=1e-3)


def test_a_tempo_factor_of_two_halves_the_bar_times() -> None:
    shown = bars(plan(tempo_factor=2.0))
    assert [b["number"] for b in shown] == ["1", "2", "3"]
    assert [b["start"] for b in shown] == pytest.approx([0.0, 1.0, 2.0], abs=1e-3)


def test_a_pickup_bar_keeps_its_printed_number_and_the_next_bar_starts_after_it() -> None:
    pickup = voice_score(
        [
            measure(0, tempo(120), note("C4", 4, "up"), implicit=True),
            measure(1, note("D4", 16, "down")),
        ]
    )
    shown = bars(plan(pickup))
    assert [b["number"] for b in shown] == ["0", "1"]
    assert [b["start"] for b in shown] == pytest.approx([0.0, 0.5], abs=1e-3)
