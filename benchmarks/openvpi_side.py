"""Drive openvpi/DiffSinger's own modules from a scratch checkout named by OPENVPI_SRC (bench only).

Nothing of openvpi is part of this repository: the bench imports its modules from the folder the
environment variable names (a `git archive` of github.com/openvpi/DiffSinger), at run time. Two of its
imports are stubbed because they pull training-only dependencies that inference never calls:
`lightning` (for a `rank_zero_info` log helper in the vocoder module) and `utils.training_utils`
(checkpoint-path helpers imported by `utils/__init__.py`). Everything the forward passes run is openvpi's.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

import torch

ENV = "OPENVPI_SRC"


def source_folder() -> Path | None:
    """The openvpi checkout named by OPENVPI_SRC, or None (the comparison is then skipped)."""
    value = os.environ.get(ENV)
    if not value:
        return None
    folder = Path(value)
    if not (folder / "modules" / "toplevel.py").is_file():
        raise SystemExit(f"{ENV}={value} is not an openvpi/DiffSinger checkout (no modules/toplevel.py)")
    return folder


def _stub(name: str, **attrs: Any) -> None:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    sys.modules.setdefault(name, module)


def _import(folder: Path) -> None:
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    try:
        import lightning  # noqa: F401
    except ModuleNotFoundError:
        for name in ("lightning", "lightning.pytorch", "lightning.pytorch.utilities"):
            _stub(name)
        _stub("lightning.pytorch.utilities.rank_zero", rank_zero_info=lambda *a, **k: None,
              rank_zero_only=lambda f: f)  # fmt: skip
    _stub("utils.training_utils", get_latest_checkpoint_path=lambda *a, **k: None)


class OpenvpiAcoustic:
    """openvpi's DiffSingerAcoustic built from a flattened config dict (its global hparams)."""

    def __init__(self, folder: Path, hparams_dict: dict[str, Any], vocab_size: int) -> None:
        _import(folder)
        from utils.hparams import hparams

        hparams.clear()
        hparams.update(hparams_dict)
        hparams["infer"] = False  # True only shows a tqdm bar over the steps
        from modules.toplevel import DiffSingerAcoustic

        self.model = DiffSingerAcoustic(vocab_size, hparams_dict["audio_num_mel_bins"]).eval()

    def perturb(self, seed: int) -> None:
        """Give every parameter random non-trivial values (openvpi zero-initialises some layers)."""
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.model.parameters():
                scale = float(p.std()) if p.numel() > 1 and float(p.std()) > 0 else 0.02
                p.add_(torch.randn(p.shape, generator=gen) * scale * 0.5)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The checkpoint's state dict in openvpi's layout (`model.` prefix)."""
        return {f"model.{k}": v for k, v in self.model.state_dict().items()}

    def __call__(self, tokens: torch.Tensor, mel2ph: torch.Tensor, f0: torch.Tensor, noise_seed: int) -> torch.Tensor:
        """openvpi's inference (ds_acoustic.forward_model): mel [B, T, M]; draws its noise from the global RNG."""
        torch.manual_seed(noise_seed)
        with torch.no_grad():
            out = self.model(tokens, mel2ph=mel2ph, f0=f0, infer=True)
        return out.diff_out  # type: ignore[no-any-return]


class OpenvpiVocoder:
    """openvpi's NSF-HiFiGAN generator via its own `load_model` (weight norm removed, as it does)."""

    def __init__(self, folder: Path, checkpoint: Path) -> None:
        _import(folder)
        from modules.nsf_hifigan.models import load_model

        self.model, self.h = load_model(checkpoint)

    def __call__(self, mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        """mel [B, M, T] (ln), f0 [B, T] -> waveform [B, 1, T * hop] (spec2wav_torch without the checks)."""
        with torch.no_grad():
            return self.model(mel, f0)  # type: ignore[no-any-return]
