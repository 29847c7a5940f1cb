"""Load an openvpi NSF-HiFiGAN checkpoint (`model.ckpt` = {'generator': state_dict} + config.json)."""

from __future__ import annotations

from pathlib import Path

import torch

from singer_tasks.errors import CheckpointError
from singer_tasks.voices.diffsinger.acoustic.load import load_torch_file
from singer_tasks.voices.vocoder.config import VocoderConfig
from singer_tasks.voices.vocoder.nsf_hifigan import Generator, channels_last_weights


def fold_weight_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace every (weight_g, weight_v) pair by weight = g * v / ||v|| (norm over all dims but 0)."""
    folded: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(".weight_v"):
            continue
        if key.endswith(".weight_g"):
            stem = key[: -len("_g")]
            v = state.get(stem + "_v")
            if v is None:
                raise CheckpointError(f"vocoder weight {key} has no matching {stem}_v")
            folded[stem] = torch._weight_norm(v, value, 0)
        else:
            folded[key] = value
    return folded


def load_vocoder(checkpoint_path: Path, config_path: Path | None = None) -> Generator:
    """Generator with weights loaded (strict keys and shapes) and weight norm folded, in eval mode."""
    config = VocoderConfig.read(config_path or checkpoint_path.with_name("config.json"))
    checkpoint = load_torch_file(checkpoint_path)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("generator"), dict):
        raise CheckpointError(f"{checkpoint_path} is not an NSF-HiFiGAN checkpoint (no 'generator' state dict)")
    state = fold_weight_norm(checkpoint["generator"])
    model = Generator(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{checkpoint_path} does not match its config.json: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if state[k].shape != v.shape
    ]
    if wrong:
        raise CheckpointError(f"{checkpoint_path} does not match its config.json: shapes {wrong[:3]}")
    model.load_state_dict(state, strict=True, assign=True)
    channels_last_weights(model)
    return model.eval()
