"""Loading a voicebank (folder or .zip) into a `Voicebank`: configs, tables, speakers, lazily opened graphs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from singer_tasks.errors import VoiceConfigError
from singer_tasks.voices.voicebank import sessions as S
from singer_tasks.voices.voicebank.archive import extract_zip, find_voicebank_root
from singer_tasks.voices.voicebank.character import CharacterInfo, load_character
from singer_tasks.voices.voicebank.config import (
    DsConfig,
    VocoderConfig,
    check_vocoder_matches,
    load_dsconfig,
    load_vocoder_config,
)
from singer_tasks.voices.voicebank.tables import (
    DsDict,
    load_dictionary_txt,
    load_dsdict,
    load_languages,
    load_phonemes,
    load_speaker_embeds,
    resolve_in,
)

SUBFOLDERS = {"dur": "dsdur", "pitch": "dspitch", "variance": "dsvariance"}
GRAPH_KINDS = (
    "acoustic",
    "vocoder",
    "dur.linguistic",
    "dur",
    "pitch.linguistic",
    "pitch",
    "variance.linguistic",
    "variance",
)


@dataclass(frozen=True)
class Tables:
    """What a dsconfig.yaml's folder provides besides graphs."""

    phonemes: dict[str, int]
    languages: dict[str, int]
    speaker_embeds: NDArray[np.float32] | None  # [S, hidden_size], rows in `speakers` order
    dictionary: dict[str, tuple[str, ...]] | None  # dictionary.txt when present


@dataclass(frozen=True)
class SubModel:
    """dsdur/, dspitch/ or dsvariance/: config, tables, dsdict.yaml and the two graph paths."""

    kind: str
    config: DsConfig
    tables: Tables
    dsdict: DsDict
    linguistic_path: Path
    model_path: Path


def _load_tables(cfg: DsConfig, root: Path) -> Tables:
    folder = cfg.folder
    phonemes = load_phonemes(resolve_in(folder, cfg.phonemes, cfg.path, "phonemes", root), cfg.path)
    languages: dict[str, int] = {}
    if cfg.use_lang_id and cfg.languages:
        languages = load_languages(resolve_in(folder, cfg.languages, cfg.path, "languages", root), cfg.path)
    embeds = None
    if cfg.speakers is not None:
        embeds = load_speaker_embeds(folder, cfg.speakers, cfg.hidden_size, cfg.path)
    dictionary = load_dictionary_txt(folder / "dictionary.txt") if (folder / "dictionary.txt").is_file() else None
    return Tables(phonemes=phonemes, languages=languages, speaker_embeds=embeds, dictionary=dictionary)


def _load_sub(root: Path, kind: str) -> SubModel | None:
    folder = root / SUBFOLDERS[kind]
    if not (folder / "dsconfig.yaml").is_file():
        return None  # OpenUtau: the predictor exists exactly when its dsconfig.yaml does
    cfg = load_dsconfig(folder / "dsconfig.yaml", kind)
    model_name = getattr(cfg, kind)
    assert model_name is not None  # _check_role made sure
    assert cfg.linguistic is not None
    return SubModel(
        kind=kind,
        config=cfg,
        tables=_load_tables(cfg, root),
        dsdict=_sub_dsdict(folder, cfg.path),
        linguistic_path=resolve_in(folder, cfg.linguistic, cfg.path, "linguistic", root),
        model_path=resolve_in(folder, model_name, cfg.path, kind, root),
    )


def _sub_dsdict(folder: Path, config_path: Path) -> DsDict:
    """The phoneme types a predictor's folder gives: its dsdict.yaml and its per-language dsdict-<lang>.yaml
    files together. OpenUtau reads one of them per phonemizer (dsdict-<lang>.yaml first, else dsdict.yaml)
    and refuses a phrase whose symbols none types; a bank may ship the per-language files alone."""
    paths = sorted(folder.glob("dsdict-*.yaml")) + sorted(folder.glob("dsdict-*.yml"))
    if (folder / "dsdict.yaml").is_file():
        paths.insert(0, folder / "dsdict.yaml")
    if not paths:
        raise VoiceConfigError(
            f"{folder / 'dsdict.yaml'}: file not found, nor any dsdict-<lang>.yaml (OpenUtau needs one beside "
            f"{config_path} for the phoneme types)"
        )
    dicts = [load_dsdict(path) for path in paths]
    types = {symbol: kind for d in dicts for symbol, kind in d.types.items()}
    entries = {grapheme: phonemes for d in dicts for grapheme, phonemes in d.entries.items()}
    return DsDict(path=paths[0], types=types, entries=entries)


def _load_vocoder(root: Path, cfg: DsConfig, vocoder_dir: Path | None) -> tuple[VocoderConfig, Path] | None:
    """dsvocoder/vocoder.yaml when present, else the named vocoder installed under `vocoder_dir` (or None)."""
    folder = root / "dsvocoder"
    if not (folder / "vocoder.yaml").is_file():
        if vocoder_dir is None or cfg.vocoder is None or not (vocoder_dir / cfg.vocoder / "vocoder.yaml").is_file():
            return None
        folder, root = vocoder_dir / cfg.vocoder, vocoder_dir / cfg.vocoder
    vcfg = load_vocoder_config(folder / "vocoder.yaml")
    check_vocoder_matches(cfg, vcfg)
    return vcfg, resolve_in(folder, vcfg.model, vcfg.path, "model", root)


def _check_variances(cfg: DsConfig, variance: SubModel | None) -> None:
    """Every curve the acoustic model takes must be predicted by dsvariance (OpenUtau fails mid-render else)."""
    for name in cfg.variance_embeds:
        if variance is None:
            raise VoiceConfigError(
                f"{cfg.path}: key 'use_{name}_embed' needs dsvariance/dsconfig.yaml, which is missing"
            )
        if name not in variance.config.predicted_variances:
            raise VoiceConfigError(
                f"{variance.config.path}: key 'predict_{name}' must be true: {cfg.path} has 'use_{name}_embed'"
            )


class Voicebank:
    """A loaded DiffSinger voicebank. Sessions open on first use (then are kept), each checked against its config."""

    def __init__(self, root: Path, threads: int, vocoder_dir: Path | None = None) -> None:
        self.root = root
        self.threads = threads
        self.character: CharacterInfo = load_character(root)
        self.config: DsConfig = load_dsconfig(root / "dsconfig.yaml", "acoustic")
        self.tables: Tables = _load_tables(self.config, root)
        assert self.config.acoustic is not None
        self.acoustic_path = resolve_in(root, self.config.acoustic, self.config.path, "acoustic", root)
        self.dur = _load_sub(root, "dur")
        self.pitch = _load_sub(root, "pitch")
        self.variance = _load_sub(root, "variance")
        _check_variances(self.config, self.variance)
        vocoder = _load_vocoder(root, self.config, vocoder_dir)
        self.vocoder_config: VocoderConfig | None = vocoder[0] if vocoder else None
        self.vocoder_path: Path | None = vocoder[1] if vocoder else None
        self._sessions: dict[str, ort.InferenceSession] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The character's name."""
        return self.character.name

    def speaker_index(self, name: str) -> int:
        """Index in `speakers` of a speaker named by its entry (``tiny.spk0``) or a subbank colour (``spk0``)."""
        speakers = self.config.speakers or ()
        if name in speakers:
            return speakers.index(name)
        for sub in self.character.subbanks:
            if name == sub.color and sub.suffix in speakers:
                return speakers.index(sub.suffix)
        raise VoiceConfigError(f"{self.config.path}: no speaker {name!r} in key 'speakers' {list(speakers)}")

    def _opener(self, kind: str) -> Callable[[], ort.InferenceSession]:
        """How to create and check the session of `kind` (one of GRAPH_KINDS)."""
        if kind == "acoustic":
            cfg = self.config
            return lambda: self._open(self.acoustic_path, cfg.path, S.acoustic_inputs(cfg), (), cfg.hidden_size)
        if kind == "vocoder":
            if self.vocoder_path is None or self.vocoder_config is None:
                name = self.config.vocoder
                raise VoiceConfigError(
                    f"{self.config.path}: no dsvocoder/vocoder.yaml and vocoder {name!r} not installed"
                )
            path, vpath = self.vocoder_path, self.vocoder_config.path
            return lambda: self._open(path, vpath, S.VOCODER_INPUTS, (), None)
        sub_kind, _, part = kind.partition(".")
        sub = getattr(self, sub_kind, None) if sub_kind in SUBFOLDERS else None
        if sub is None:
            raise VoiceConfigError(f"{self.root}: no {SUBFOLDERS.get(sub_kind, kind)}/dsconfig.yaml for graph {kind!r}")
        c = sub.config
        if part == "linguistic":
            word_mode = sub_kind == "dur" or c.predict_dur
            specs = S.linguistic_inputs(c, word_mode)
            return lambda: self._open(sub.linguistic_path, c.path, specs, ("encoder_out", "x_masks"), None)
        specs, outs = {
            "dur": (S.dur_inputs(c), ("ph_dur_pred",)),
            "pitch": (S.pitch_inputs(c), ("pitch_pred",)),
            "variance": (S.variance_inputs(c), tuple(f"{n}_pred" for n in c.predicted_variances)),
        }[sub_kind]
        return lambda: self._open(sub.model_path, c.path, specs, outs, c.hidden_size)

    def _open(
        self, model: Path, config: Path, specs: dict[str, S.InputSpec], outs: tuple[str, ...], width: int | None
    ) -> ort.InferenceSession:
        session = S.create_session(model, self.threads)
        S.check_graph(session, model, config, specs, outs, width)
        return session

    def session(self, kind: str) -> ort.InferenceSession:
        """The session of graph `kind` (see GRAPH_KINDS), created and checked on first use."""
        if kind not in GRAPH_KINDS:
            raise ValueError(f"unknown graph kind {kind!r}; one of {GRAPH_KINDS}")
        with self._lock:
            if kind not in self._sessions:
                self._sessions[kind] = self._opener(kind)()
            return self._sessions[kind]

    def set_session(self, kind: str, session: ort.InferenceSession) -> None:
        """Use `session` for graph `kind` (tests: a graph rewritten to take its noise as an input). Unchecked."""
        with self._lock:
            self._sessions[kind] = session

    def available_graphs(self) -> tuple[str, ...]:
        """The graph kinds this voicebank has."""
        kinds = ["acoustic"] + (["vocoder"] if self.vocoder_path else [])
        for sub_kind in SUBFOLDERS:
            if getattr(self, sub_kind) is not None:
                kinds += [f"{sub_kind}.linguistic", sub_kind]
        return tuple(kinds)

    def check_graphs(self) -> None:
        """Open (and so check) every graph now instead of at first use."""
        for kind in self.available_graphs():
            self.session(kind)


def load_voicebank(
    source: Path,
    *,
    threads: int,
    cache_dir: Path | None = None,
    vocoder_dir: Path | None = None,
    check_graphs: bool = True,
) -> Voicebank:
    """Load a voicebank from a folder or a .zip (extracted under `cache_dir`), found by its character.txt.

    `threads` is the intra-op thread count of every session (the caller's CPU quota). With `check_graphs` every
    graph is opened now and its inputs checked against its config; otherwise that happens at first use.
    """
    source = Path(source)
    if source.is_file():
        if cache_dir is None:
            raise VoiceConfigError(f"{source}: a zipped voicebank needs a cache_dir to extract into")
        source = extract_zip(source, Path(cache_dir))
    if not source.is_dir():
        raise VoiceConfigError(f"{source}: no such voicebank folder or zip")
    bank = Voicebank(find_voicebank_root(source), threads, vocoder_dir)
    if check_graphs:
        bank.check_graphs()
    return bank
