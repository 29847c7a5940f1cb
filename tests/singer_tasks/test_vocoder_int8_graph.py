"""The int8 vocoder graph's parts: the polyphase form of a transposed convolution equals it, the observed
float walk is the network itself, the written graph is channels-last (no layout transposes between
convolutions, no float transposed convolutions), and a ResBlock2 vocoder is written too. The SNR of the
whole int8 network against float32 is in test_vocoder_int8.py."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.bench_voices import DEFAULT_VOCODER, _save_vocoder
from singer_tasks.voices.vocoder import int8, int8_graph
from singer_tasks.voices.vocoder.load import load_vocoder
from singer_tasks.voices.vocoder.nsf_hifigan import Generator, ResBlock1, SourceNoise, to_channels_last
from tests.singer_tasks.test_vocoder_int8 import FIXTURES, SNR_DB, _both, _snr_db, _sung_mel


def _polyphase_apply(layer: nn.ConvTranspose1d, x: torch.Tensor) -> torch.Tensor:
    """The polyphase convolution on x [B, C_in, T], its phases interleaved back into one signal."""
    poly = int8_graph.polyphase_weight(layer, frames_in=x.shape[-1])
    y = F.conv1d(F.pad(x, (poly.pad_left, poly.pad_right)), poly.weight, poly.bias)  # (B, u C_out, frames)
    u, c_out = layer.stride[0], layer.weight.shape[1]
    assert y.shape[-1] == poly.frames
    y = y.reshape(x.shape[0], u, c_out, -1).permute(0, 2, 3, 1).reshape(x.shape[0], c_out, -1)
    return y[..., : poly.length]


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "output_padding"),
    [(16, 8, 4, 0), (4, 2, 1, 0), (5, 2, 2, 0), (3, 3, 0, 0), (6, 4, 1, 1), (4, 2, 3, 0)],
)
def test_polyphase_form_equals_the_transposed_convolution(
    kernel: int, stride: int, padding: int, output_padding: int
) -> None:
    torch.manual_seed(kernel * 10 + stride)
    layer = nn.ConvTranspose1d(6, 5, kernel, stride, padding=padding, output_padding=output_padding)
    x = torch.randn(2, 6, 13)
    with torch.no_grad():
        expected = layer(x)
        got = _polyphase_apply(layer, x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_a_transposed_convolution_that_needs_cropping_is_refused() -> None:
    layer = nn.ConvTranspose1d(4, 4, 2, 2, padding=2)  # its first output sample needs input frame 1
    with pytest.raises(ValueError, match="cropping"):
        int8_graph.polyphase_weight(layer, frames_in=10)


@pytest.mark.parametrize("name", ["voc-classic", "voc-mini"])
def test_the_observed_walk_is_the_network(name: str) -> None:
    vocoder = load_vocoder(FIXTURES / name / "model.ckpt")
    case = torch.load(FIXTURES / name / "case.pt", weights_only=True)
    source = vocoder.source_signal(case["f0"], SourceNoise(), torch.Generator().manual_seed(0))
    seen: list[str] = []
    with torch.inference_mode():
        expected = vocoder.network(case["mel"], to_channels_last(source))
        got = int8_graph.network_with_observer(
            vocoder, case["mel"], to_channels_last(source), lambda point, _: seen.append(point)
        )
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    convs_per_block = 2 * len(vocoder.config.resblock_dilation_sizes[0])
    assert len({p for p in seen if p.endswith(".in")}) == len(vocoder.ups) + convs_per_block * len(vocoder.resblocks)


def _graph(vocoder: Generator, tmp_path: Path) -> onnx.GraphProto:
    network = int8.int8_network(vocoder, tmp_path, threads=1)
    return onnx.load(str(network.model_path)).graph


def test_the_graph_is_channels_last_from_end_to_end(tmp_path: Path) -> None:
    vocoder = load_vocoder(FIXTURES / "voc-mini" / "model.ckpt")
    graph = _graph(vocoder, tmp_path)
    kinds = [node.op_type for node in graph.node]
    qconvs = [node for node in graph.node if node.op_type == "QLinearConv"]
    assert all(node.domain == "com.microsoft" for node in qconvs)
    assert all(any(a.name == "channels_last" and a.i == 1 for a in node.attribute) for node in qconvs)
    convs_per_block = sum(len(block.convs1) + len(block.convs2) for block in vocoder.resblocks)  # type: ignore[arg-type]
    assert all(isinstance(block, ResBlock1) for block in vocoder.resblocks)
    float_ups = sum(int8_graph.float_upsampling(up) for up in vocoder.ups)  # type: ignore[arg-type]
    assert len(qconvs) == len(vocoder.ups) - float_ups + convs_per_block  # the upsampling layers too
    assert kinds.count("MatMul") == float_ups  # those of small fan-in: float polyphase, still channels-last
    assert "ConvTranspose" not in kinds
    assert kinds.count("Transpose") == 2  # after conv_pre and before conv_post, at the ends only
    assert kinds.count("Conv") == 2  # conv_pre and conv_post stay float


def test_only_the_upsampling_layers_of_small_fan_in_stay_float(tmp_path: Path) -> None:
    # openvpi's default size: 512 channels upsampled x8, x8, x2, x2, x2; fan-in = input channels x taps
    vocoder = load_vocoder(_save_vocoder({**DEFAULT_VOCODER, "mini_nsf": True}, tmp_path))
    fan_in = [up.weight.shape[0] * int8_graph.polyphase_weight(up, 8).weight.shape[2] for up in vocoder.ups]  # type: ignore[union-attr, arg-type]
    assert fan_in == [1536, 768, 384, 192, 96]
    assert [int8_graph.float_upsampling(up) for up in vocoder.ups] == [False, False, False, True, True]  # type: ignore[arg-type]


def test_a_resblock2_vocoder_is_written_and_within_tolerance(tmp_path: Path) -> None:
    torch.manual_seed(3)
    raw = {
        **DEFAULT_VOCODER, "upsample_initial_channel": 64, "resblock": "2",
        "resblock_dilation_sizes": [[1, 3], [1, 3], [1, 3]],
    }  # fmt: skip
    vocoder = load_vocoder(_save_vocoder(raw, tmp_path))
    assert json.loads((tmp_path / "voc-classic" / "config.json").read_text())["resblock"] == "2"
    network = int8.int8_network(vocoder, tmp_path / "cache", threads=1)
    mel, f0 = _sung_mel(vocoder, 120, base_hz=200.0)
    exact, quantized = _both(vocoder, mel, f0, network)
    assert not torch.equal(exact, quantized) and _snr_db(exact, quantized) >= SNR_DB


def test_a_vocoder_the_graph_cannot_write_stays_float() -> None:
    vocoder = load_vocoder(FIXTURES / "voc-classic" / "model.ckpt")
    assert int8.supported(vocoder)
    first = vocoder.ups[0]
    assert isinstance(first, nn.ConvTranspose1d)
    # An upsampling layer whose output is one sample longer than stride x input (kernel - 2 padding > stride)
    longer = first.kernel_size[0] + 1
    vocoder.ups[0] = nn.ConvTranspose1d(
        first.in_channels, first.out_channels, longer, first.stride[0], int(first.padding[0])
    )
    assert not int8_graph.graph_supported(vocoder) and not int8.supported(vocoder)
