"""Errors of the voice side of the pipeline (acoustic model, vocoder, voices, rendering).

Torch-free so that anything may import it. One base class; each failure names the file or the
setting at fault and what to do about it.
"""

from __future__ import annotations


class VoiceError(Exception):
    """Base class of every error raised while loading or running a voice."""


class VoiceConfigError(VoiceError):
    """Raised when a voice.yaml, config.yaml or config.json is missing, malformed or inconsistent."""


class CheckpointError(VoiceError):
    """Raised when a checkpoint file is missing, truncated or does not match its config."""


class PhonemeError(VoiceError):
    """Raised when a phrase holds phonemes that the voice does not know (names them)."""


class RenderInputError(VoiceError):
    """Raised when a phrase cannot be rendered (empty, too long, bad curves, unknown sampler)."""
