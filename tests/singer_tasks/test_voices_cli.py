"""`python -m singer_tasks voices list|check|add` and `render --voice/--expression/--speaker`, through the CLI's
main(); the catalog (torch-free) and voices fetched from the bucket."""

from __future__ import annotations

import shutil
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from singer_tasks.cli.main import main
from singer_tasks.errors import VoiceNotFound
from singer_tasks.settings import get_settings
from singer_tasks.voices.catalog import list_voices, voice_info
from singer_tasks.voices.loader import clear_voice_cache, resolve_manifest
from singer_tasks.voices.remote import fetch_voice
from taskkit.backends.local.blobs import LocalBlobStore
from tests.singer_tasks.test_voice_chain import BANK, FIXTURES, song, zip_bank

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def voices_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "voices"
    root.mkdir()
    monkeypatch.setenv("SINGER_VOICES_DIR", str(root))
    monkeypatch.setenv("SINGER_VOICE_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    clear_voice_cache()
    yield root
    clear_voice_cache()


def test_check_reports_what_it_found(capsys: pytest.CaptureFixture[str], voices_dir: Path, tmp_path: Path) -> None:
    assert main(["voices", "check", str(zip_bank(tmp_path / "bank.zip"))]) == 0
    out = capsys.readouterr().out
    assert "ok: tiny-random (voicebank)" in out and "spk0, spk1, spk2" in out
    assert "duration -> pitch -> variance -> acoustic -> vocoder" in out and "languages: zh" in out


def test_check_names_the_broken_file(capsys: pytest.CaptureFixture[str], voices_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(BANK, broken, ignore=shutil.ignore_patterns("cases"))
    (broken / "dsvariance" / "dsconfig.yaml").write_text(
        (broken / "dsvariance" / "dsconfig.yaml").read_text().replace("predict_tension: true", "predict_tension: false")
    )
    assert main(["voices", "check", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "dsvariance/dsconfig.yaml" in err and "predict_tension" in err


def test_add_then_list_and_refuse_a_second_copy(
    capsys: pytest.CaptureFixture[str], voices_dir: Path, tmp_path: Path
) -> None:
    bank = zip_bank(tmp_path / "tiny.zip")
    assert main(["voices", "add", str(bank)]) == 0
    assert (voices_dir / "tiny.zip").is_file()
    capsys.readouterr()
    assert main(["voices", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "LANGUAGES", "SPEAKERS", "STAGES"]
    assert lines[1].split()[:2] == ["builtin", "builtin"]
    assert lines[2].split() == ["tiny-random", "voicebank", "zh", "spk0,spk1,spk2",
                                "duration,pitch,variance,acoustic,vocoder"]  # fmt: skip
    folder = tmp_path / "again"
    shutil.copytree(BANK, folder, ignore=shutil.ignore_patterns("cases"))
    assert main(["voices", "add", str(folder)]) == 2
    assert "already installed" in capsys.readouterr().err
    assert not (voices_dir / "again").exists()


def test_render_cli_with_voicebank_expression_and_speaker(voices_dir: Path, tmp_path: Path) -> None:
    zip_bank(voices_dir / "tiny.zip")
    score = tmp_path / "song.musicxml"
    score.write_bytes(song())
    for expression in ("voice", "score"):
        out = tmp_path / f"{expression}.wav"
        args = ["render", str(score), "-o", str(out), "--voice", "tiny-random", "--expression", expression,
                "--speaker", "spk1", "--language", "zh"]  # fmt: skip
        assert main(args) == 0
        with wave.open(str(out)) as w:
            assert w.getframerate() == 44100 and w.getnframes() > 44100
    assert main(["render", str(score), "-o", str(tmp_path / "x.wav"), "--voice", "tiny-random", "--speaker", "x"]) == 2


def test_catalog_lists_builtin_voicebanks_and_openvpi_voices(voices_dir: Path) -> None:
    shutil.copytree(BANK, voices_dir / "folder-bank", ignore=shutil.ignore_patterns("cases"))
    shutil.copytree(FIXTURES / "voices" / "tiny", voices_dir / "tiny")
    (voices_dir / "tiny" / "voice.yaml").write_text(
        (voices_dir / "tiny" / "voice.yaml").read_text().replace("../../openvpi", str(FIXTURES / "openvpi"))
    )
    voices = {v.name: v for v in list_voices(get_settings())}
    assert next(iter(voices)) == "builtin" and set(voices) == {"builtin", "tiny-random", "tiny"}
    bank = voices["tiny-random"]
    assert bank.kind == "voicebank" and bank.expressive and bank.folder == (voices_dir / "folder-bank").resolve()
    assert bank.languages == ("zh",) and bank.speakers == ("spk0", "spk1", "spk2") and bank.licence
    tiny = voices["tiny"]
    assert tiny.stages == ("acoustic", "vocoder") and tiny.speakers == ("tenor", "alto", "bass")
    assert not tiny.expressive
    assert voice_info("tiny-random", get_settings()) == bank
    with pytest.raises(VoiceNotFound):
        voice_info("nobody", get_settings())


def test_catalog_imports_no_numpy_torch_or_onnxruntime() -> None:
    code = (
        "import sys\nfrom singer_tasks.voices.catalog import list_voices\n"
        "from singer_tasks.settings import get_settings\n"
        "list_voices(get_settings())\n"
        "print([m for m in ('numpy', 'torch', 'onnxruntime', 'music21') if m in sys.modules])\n"
    )
    env = {"PATH": "/usr/bin:/bin", "SINGER_VOICES_DIR": str(BANK.parent)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_voices_come_from_the_bucket_on_first_use(voices_dir: Path, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs", b"secret", "http://127.0.0.1:1")
    blobs.put("voices/tiny-random.zip", zip_bank(tmp_path / "up.zip").read_bytes())
    for path in sorted(BANK.rglob("*")):
        if path.is_file() and "cases" not in path.parts:
            blobs.put(f"voices/other/{path.relative_to(BANK).as_posix()}", path.read_bytes())
    with pytest.raises(VoiceNotFound):
        resolve_manifest("tiny-random", voices_dir)
    manifest = resolve_manifest("tiny-random", voices_dir, blobs)
    cache = get_settings().voice_cache_dir
    assert manifest.kind == "voicebank" and manifest.folder == (cache / "remote" / "tiny-random.zip").resolve()
    folder = fetch_voice(blobs, "other", cache)
    assert folder is not None and (folder / "dsdur" / "dsconfig.yaml").is_file()
    assert not [p for p in (cache / "remote").iterdir() if p.name.startswith(".fetch-")]
    assert fetch_voice(blobs, "absent", cache) is None


def test_prepare_builds_the_int8_vocoder_into_the_voice_cache(
    capsys: pytest.CaptureFixture[str], voices_dir: Path, tmp_path: Path
) -> None:
    from tests.singer_tasks.test_voices import _copy_tiny

    shutil.copytree(_copy_tiny(tmp_path), voices_dir / "tiny")
    shutil.copytree(BANK, voices_dir / "folder-bank", ignore=shutil.ignore_patterns("cases"))
    assert main(["voices", "prepare", "nobody"]) == 2
    assert "no installed voice named 'nobody'" in capsys.readouterr().err
    assert main(["voices", "prepare"]) == 0
    out = capsys.readouterr().out
    built = sorted((tmp_path / "cache" / "int8").glob("vocoder-*.onnx"))
    assert len(built) == 1 and f"tiny: int8 vocoder network {built[0]}" in out and "tiny: int8 denoiser " in out
    assert "tiny-random: voicebank, nothing to prepare" in out and "builtin: builtin, nothing to prepare" in out
    stamp = built[0].stat().st_mtime_ns
    assert main(["voices", "prepare", "tiny"]) == 0  # already there: read, not rebuilt
    assert built[0].stat().st_mtime_ns == stamp
