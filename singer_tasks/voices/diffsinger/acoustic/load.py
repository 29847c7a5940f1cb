"""Load an openvpi acoustic experiment: config.yaml, phoneme dictionary, checkpoint (strict keys)."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from singer_tasks.errors import CheckpointError, VoiceConfigError
from singer_tasks.voices.diffsinger.acoustic.config import AcousticConfig
from singer_tasks.voices.diffsinger.acoustic.model import DiffSingerAcoustic
from singer_tasks.voices.files import read_mapping


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping (an experiment's config.yaml); errors name `what` and the file."""
    return read_mapping(path, what)


def read_config(path: Path) -> AcousticConfig:
    """Parse an experiment's flattened config.yaml."""
    raw = read_yaml_mapping(path, "acoustic config")
    try:
        return AcousticConfig.from_dict(raw)
    except VoiceConfigError as e:
        raise VoiceConfigError(f"{path}: {e}") from e


def load_torch_file(path: Path) -> Any:
    """torch.load(weights_only=True) with errors that name the file (missing, truncated, unsafe).

    The file is memory-mapped where its format allows (torch's zip format, the default since 1.6): the
    tensors are then views of the file's pages, read on first use and never copied, so loading costs
    neither a second copy of the weights nor reading what a model ignores (an optimizer's state).
    """
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (pre-zip) format, or damage: read it whole; errors are named below
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"checkpoint {path} holds objects other than tensors, which are not loaded for safety: {e}. If it "
            "is a full training checkpoint you trust, keep only its weights once: torch.save({'state_dict': "
            "torch.load(p, weights_only=False)['state_dict']}, p)"
        ) from e
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as e:
        raise CheckpointError(
            f"checkpoint {path} cannot be read (truncated, corrupt or not a weights-only torch file): {e}"
        ) from e


def model_state_dict(checkpoint: Any, path: Path, category: str) -> dict[str, torch.Tensor]:
    """The `model.`-prefixed parameters of an openvpi checkpoint of `category`, prefix removed."""
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise CheckpointError(f"{path} is not an openvpi checkpoint (no 'state_dict' dict)")
    found = checkpoint.get("category")
    if found is not None and found != category:
        raise CheckpointError(f"{path} holds a {found!r} model where a {category!r} one was expected")
    state = {k[len("model.") :]: v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    if not state:
        raise CheckpointError(f"{path} has no parameters under 'model.'")
    return state


def acoustic_state_dict(checkpoint: Any, path: Path) -> dict[str, torch.Tensor]:
    """The `model.`-prefixed parameters of an openvpi acoustic checkpoint, prefix removed."""
    return model_state_dict(checkpoint, path, "acoustic")


def check_vocab(state: dict[str, torch.Tensor], checkpoint_path: Path, vocab_size: int) -> None:
    """Refuse a phoneme dictionary whose size differs from the checkpoint's token embedding."""
    embed = state.get("fs2.txt_embed.weight")
    if embed is not None and embed.shape[0] != vocab_size:
        raise CheckpointError(
            f"{checkpoint_path} embeds {embed.shape[0] - 1} phonemes but the voice's phoneme dictionary yields "
            f"{vocab_size - 1}: the dictionary lacks (or adds) phonemes the model was trained with; use the "
            "experiment's own dictionary file(s)"
        )


def load_strict(model: nn.Module, state: dict[str, torch.Tensor], checkpoint_path: Path) -> None:
    """Load `state` into `model` after checking that keys and shapes match exactly (names the first misfits).

    assign=True: the parameters become the (memory-mapped) checkpoint tensors instead of copies of them.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{checkpoint_path} does not match its config.yaml: "
            f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if state[k].shape != v.shape
    ]
    if wrong:
        raise CheckpointError(
            f"{checkpoint_path} does not match its config.yaml (or phoneme dictionary): shapes {wrong[:3]}"
        )
    state = {k: v if v.dtype == expected[k].dtype else v.to(expected[k].dtype) for k, v in state.items()}
    model.load_state_dict(state, strict=True, assign=True)


def build_acoustic_model(config: AcousticConfig, checkpoint_path: Path, vocab_size: int) -> DiffSingerAcoustic:
    """Build the model for `config` and load the checkpoint with strict key and shape checking."""
    state = acoustic_state_dict(load_torch_file(checkpoint_path), checkpoint_path)
    try:
        model = DiffSingerAcoustic(config, vocab_size)
    except ValueError as e:
        raise VoiceConfigError(f"cannot build the acoustic model from its config: {e}") from e
    check_vocab(state, checkpoint_path, vocab_size)
    load_strict(model, state, checkpoint_path)
    return model.eval()
