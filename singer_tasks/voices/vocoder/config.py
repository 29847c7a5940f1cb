"""Typed NSF-HiFiGAN settings read from the `config.json` beside an openvpi vocoder checkpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from singer_tasks.errors import VoiceConfigError
from singer_tasks.voices.files import read_mapping
from singer_tasks.voices.mel import MelConfig


@dataclass(frozen=True)
class VocoderConfig:
    """Generator structure plus the mel it was trained on."""

    mel: MelConfig
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4, 4)
    upsample_initial_channel: int = 512
    resblock: str = "1"
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    mini_nsf: bool = False
    noise_sigma: float = 0.0

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> VocoderConfig:
        """Build from config.json's mapping; raises VoiceConfigError naming the bad key."""
        try:
            config = cls(
                mel=MelConfig(
                    sample_rate=int(raw["sampling_rate"]),
                    n_mels=int(raw["num_mels"]),
                    hop_size=int(raw["hop_size"]),
                    win_size=int(raw["win_size"]),
                    fft_size=int(raw["n_fft"]),
                    fmin=float(raw["fmin"]),
                    fmax=float(raw["fmax"]),
                    mel_base="e",
                ),
                upsample_rates=tuple(int(r) for r in raw["upsample_rates"]),
                upsample_kernel_sizes=tuple(int(k) for k in raw["upsample_kernel_sizes"]),
                upsample_initial_channel=int(raw["upsample_initial_channel"]),
                resblock=str(raw.get("resblock", "1")),
                resblock_kernel_sizes=tuple(int(k) for k in raw["resblock_kernel_sizes"]),
                resblock_dilation_sizes=tuple(tuple(int(d) for d in ds) for ds in raw["resblock_dilation_sizes"]),
                mini_nsf=bool(raw.get("mini_nsf", False)),
                noise_sigma=float(raw.get("noise_sigma") or 0.0),
            )
        except KeyError as e:
            raise VoiceConfigError(f"vocoder config.json lacks {e}") from e
        except (TypeError, ValueError) as e:
            raise VoiceConfigError(f"vocoder config.json has a bad value: {e}") from e
        if config.resblock not in ("1", "2"):
            raise VoiceConfigError(f"vocoder config.json: resblock must be '1' or '2', got {config.resblock!r}")
        if len(config.upsample_rates) != len(config.upsample_kernel_sizes):
            raise VoiceConfigError("vocoder config.json: upsample_rates and upsample_kernel_sizes differ in length")
        product = 1
        for rate in config.upsample_rates:
            product *= rate
        if product != config.mel.hop_size:
            raise VoiceConfigError(
                f"vocoder config.json: upsample_rates multiply to {product}, not hop_size {config.mel.hop_size}"
            )
        return config

    @classmethod
    def read(cls, path: Path) -> VocoderConfig:
        """Read config.json; raises VoiceConfigError naming the file."""
        raw = read_mapping(path, "vocoder config", hint="it must lie beside model.ckpt")
        try:
            return cls.from_dict(raw)
        except VoiceConfigError as e:
            raise VoiceConfigError(f"{path}: {e}") from e
