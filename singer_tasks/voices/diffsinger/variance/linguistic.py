"""The variance model's linguistic encoder (openvpi FastSpeech2Variance, the `fs2` submodule).

Word level (`predict_dur`): each token is embedded with its word's onset flag and duration, and a duration
predictor reads the encoding plus the phoneme's MIDI key. Phoneme level: each token is embedded with its
own (given) duration. forward -> encoder_out [B, N, H] and raw durations [B, N] (None at phoneme level).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from singer_tasks.voices.diffsinger.acoustic.encoder import FastSpeech2Encoder
from singer_tasks.voices.diffsinger.variance.config import VarianceConfig
from singer_tasks.voices.diffsinger.variance.duration import DurationPredictor


class LinguisticEncoder(nn.Module):
    """Parameter names as openvpi's FastSpeech2Variance."""

    def __init__(self, config: VarianceConfig, vocab_size: int) -> None:
        super().__init__()
        dim = config.hidden_size
        self.predict_dur = config.predict_dur
        self.use_lang_id = config.use_lang_id
        self.use_variance_scaling = config.use_variance_scaling
        self.txt_embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        if config.use_lang_id:
            self.lang_embed = nn.Embedding(config.num_lang + 1, dim, padding_idx=0)
        if config.predict_dur:
            self.onset_embed = nn.Embedding(2, dim)
            self.word_dur_embed = nn.Linear(1, dim)
        else:
            self.ph_dur_embed = nn.Linear(1, dim)
        self.encoder = FastSpeech2Encoder(config.encoder)
        if config.predict_dur:
            self.midi_embed = nn.Embedding(128, dim)
            self.dur_predictor = DurationPredictor(dim, config.duration)

    def forward(
        self,
        tokens: Tensor,
        midi: Tensor,
        ph2word: Tensor,
        *,
        ph_dur: Tensor | None = None,
        word_dur: Tensor | None = None,
        spk_embed: Tensor | None = None,
        languages: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """tokens, midi (int MIDI key), ph2word, ph_dur [B, N]; word_dur [B, W] frames; spk_embed [B, 1 or N, H]
        (the token-level speaker mix, read by the duration predictor only)."""
        if self.predict_dur:
            onset = torch.diff(ph2word, dim=1, prepend=ph2word.new_zeros(ph2word.shape[0], 1)) > 0
            if word_dur is None:
                if ph_dur is None:
                    raise ValueError("the word-level encoder needs word_dur or ph_dur")
                word_dur = ph_dur.new_zeros(ph2word.shape[0], int(ph2word.max()) + 1).scatter_add(1, ph2word, ph_dur)
                word_dur = word_dur[:, 1:]
            ph_word_dur = torch.gather(F.pad(word_dur, [1, 0]), 1, ph2word)  # (B, W) -> (B, N)
            # word durations enter unscaled (raw frames) even with use_variance_scaling, as in openvpi
            extra = self.onset_embed(onset.long()) + self.word_dur_embed(ph_word_dur.float()[:, :, None])
        else:
            if ph_dur is None:
                raise ValueError("the phoneme-level encoder needs ph_dur")
            dur_in = ph_dur.float()[:, :, None]
            extra = self.ph_dur_embed(torch.log(1 + dur_in) if self.use_variance_scaling else dur_in)
        if self.use_lang_id:
            extra = extra + self.lang_embed(torch.zeros_like(tokens) if languages is None else languages)
        padding = tokens == 0
        encoder_out: Tensor = self.encoder(self.txt_embed(tokens), extra, padding, None)  # (B, N, H)
        if not self.predict_dur:
            return encoder_out, None
        dur_cond = encoder_out + self.midi_embed(midi)
        if spk_embed is not None:
            dur_cond = dur_cond + spk_embed
        return encoder_out, self.dur_predictor(dur_cond, padding)
