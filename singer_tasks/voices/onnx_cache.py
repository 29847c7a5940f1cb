"""What the int8 copies of the models share: ONNX Runtime sessions for them, and a disk cache keyed by
the weights they were made from.

An int8 copy (the vocoder's network, the denoiser backbone) is exported from the float32 torch module
and quantized once, seconds of work at openvpi's default size, then kept under
`<voice cache>/int8/<kind>-<digest>.onnx`, where the digest covers the recipe, the torch and ONNX
Runtime versions, the module's config and every weight. A worker reads it instead of building it again,
and a changed voice file gets a new digest (never a stale copy).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import structlog
import torch

log = structlog.get_logger("singer.voices")
Session = TypeVar("Session", bound="OnnxSession")
Build = Callable[[Path, Path], None]


def weights_digest(recipe: str, config: object, state: Iterable[tuple[str, torch.Tensor]]) -> str:
    """A digest of a recipe, the runtime versions, a config (by repr) and named weights."""
    import onnxruntime

    digest = hashlib.sha256(f"{recipe}|{torch.__version__}|{onnxruntime.__version__}".encode())
    digest.update(repr(config).encode())
    for name, tensor in sorted(state, key=lambda item: item[0]):
        digest.update(name.encode())
        digest.update(tensor.detach().float().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def build_once(path: Path, build: Build) -> Path:
    """`path`, built by `build(scratch folder, target file)` unless it is there already. The file is
    written beside `path` and renamed into place, so a reader never sees half of one (two processes
    building the same digest both rename a whole file)."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        target = Path(tmp) / path.name
        build(Path(tmp), target)
        os.replace(target, path)
    return path


class OnnxSession:
    """An ONNX Runtime CPU session with this process's thread share, fed and answering torch tensors."""

    def __init__(self, model_path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # No spinning between calls: torch's threads run the next stage on the same cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.model_path = model_path

    def run(self, **inputs: torch.Tensor) -> torch.Tensor:
        """The first output for named float32 inputs."""
        feed: dict[str, Any] = {name: value.float().contiguous().numpy() for name, value in inputs.items()}
        out: np.ndarray = self.session.run(None, feed)[0]
        return torch.from_numpy(out)

    def op_counts(self) -> dict[str, int]:
        """How many nodes of each operator type the model file holds (what the bench prints)."""
        import onnx

        counts: dict[str, int] = {}
        for node in onnx.load(str(self.model_path)).graph.node:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
        return counts


def cached_session(kind: type[Session], path: Path, build: Build, threads: int) -> Session:
    """A `kind` session on the model at `path`, built first where it is missing; a file there that ONNX
    Runtime cannot load (a cut copy, a disk fault) is built again once rather than failing every render."""
    build_once(path, build)
    try:
        return kind(path, threads)
    except Exception as e:  # onnxruntime raises its own types (InvalidProtobuf, Fail, ...)
        log.warning("onnx_cache.rebuilt", path=str(path), error=f"{type(e).__name__}: {e}")
        path.unlink(missing_ok=True)
        return kind(build_once(path, build), threads)
