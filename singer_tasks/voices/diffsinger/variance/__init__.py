"""openvpi DiffSinger's variance model in torch (inference only): durations, pitch and variance curves.

Public API::

    model = VarianceModel.from_files(checkpoint, config, dictionaries, spk_map=None)
    inputs = model.build_inputs(segment, speakers=None)      # a .ds segment (dict) -> VarianceInputs
    pred = model.predict(inputs, steps=None, algorithm=None, noise=None, generator=None, on_step=None)
    segment_out = write_back(segment, pred, model.config.timestep)   # the segment as openvpi writes it

`pred` is a VariancePrediction: encoder_out [1, N, H], ph_dur_raw [1, N] (None when durations were given),
ph_dur [1, N] frames, mel2ph [1, T], pitch_midi [1, T] and variances {name: [1, T]}. Each stage runs when
the checkpoint has it. `noise` lists the starting noises in openvpi's draw order (pitch [1, 1, R, T], then
variances [1, F, R, T]), so a test can reproduce openvpi's own outputs exactly.

Modules: config (VarianceConfig), inputs (segment -> tensors), speakers (speaker mixes), linguistic
(word/phoneme-level encoder), duration (duration predictor, rhythm and length regulators), pitch (melody
encoder, retake/expressiveness, repeat-bin sampling), variances (multi-variance layout), model, dsout.
The encoder layers, denoiser backbones and samplers are the acoustic model's (`..acoustic`).
"""

from singer_tasks.voices.diffsinger.variance.config import VarianceConfig
from singer_tasks.voices.diffsinger.variance.dsout import write_back
from singer_tasks.voices.diffsinger.variance.inputs import VarianceInputs, build_inputs
from singer_tasks.voices.diffsinger.variance.model import DiffSingerVariance, VarianceModel, VariancePrediction

__all__ = [
    "DiffSingerVariance",
    "VarianceConfig",
    "VarianceInputs",
    "VarianceModel",
    "VariancePrediction",
    "build_inputs",
    "write_back",
]
