"""The render worker loads the default voice while it starts (`kit.on_worker_start`), so a song's
first phrase does not wait for model loading; concurrent first uses load a voice once."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from singer_tasks.render.tasks import kit as render_kit
from singer_tasks.render.tasks import load_default_voice
from singer_tasks.settings import get_settings
from singer_tasks.voices import loader
from taskkit import Kit
from taskkit.worker import run_warmups


def test_the_render_worker_warms_up_its_default_voice(kit: Kit) -> None:
    assert load_default_voice in render_kit.warmups
    loader.clear_voice_cache()
    settings = get_settings()
    wanted = (str(settings.default_voice), str(settings.voices_dir or ""))
    assert wanted not in loader.loaded_voices()
    run_warmups(render_kit)
    assert wanted in loader.loaded_voices()


def test_a_voice_asked_for_by_several_threads_at_once_loads_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loader.clear_voice_cache()
    loads: list[str] = []
    real = loader.load_voice

    def counting(voice: Any, root: Any = None, blobs: Any = None) -> Any:
        loads.append(str(voice))
        return real(voice, root, blobs)

    monkeypatch.setattr(loader, "load_voice", counting)
    start = threading.Barrier(4)
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(loader.get_voice("builtin"))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == ["builtin"] and len({id(v) for v in got}) == 1
