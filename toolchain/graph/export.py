"""PyTorch spiking ResNet / SpikeBottleNet -> one NIR graph, exactly.

    export_nir(model) -> nir.NIRGraph

What becomes what (node names in quotes; docs/export.md has the full story):

- direct encoding: "input" (C, H, W), fed the image at each of the T steps;
- conv + tdBN: one Conv2d with the norm folded in ("stem.conv", "rb3.conv2",
  "rb3.downsample", "encoder.conv", ...), float64 weights;
- iterative LIF u = k u (1 - o) + x, o = u >= V_th: a NIR LIF (IF where k = 1) stepped with
  forward Euler at dt = 1 (``sbn.graph.conventions``), hard reset to 0;
- residual join: the block's last LIF ("rb3.lif3") receives both "rb3.conv3" and the
  shortcut (the block input, or "rb3.downsample"); NIR sums a node's inputs;
- decoder transposed conv: a Conv2d producing the polyphase layout (``sbn.graph.phases``);
- head, mean over T, H, W then fc: "head.pool" (AvgPool2d over H x W) -> "head.flatten" ->
  "head.fc" (Affine) per step, "output"; the mean over T of the per-step output is left to
  the consumer (NIR has no time average; metadata ``sbn.readout`` says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np
from torch import nn

from sbn import __version__
from sbn.errors import ExportError
from sbn.graph import conventions as cv
from sbn.graph.fold import fold_conv
from sbn.graph.phases import conv_on_phases, conv_transpose_to_phases, phase_kernel_params
from sbn.models.bottleneck import BottleneckUnit, SplitModel
from sbn.models.layers import SeqConv2d, SeqConvTranspose2d
from sbn.models.neurons import LIF, LIFParameters
from sbn.models.norm import TdBatchNorm
from sbn.models.resnet import Bottleneck, ResNet

#: module types the exporter understands (anything else inside the model is refused)
SUPPORTED_MODULES = (
    SplitModel,
    ResNet,
    Bottleneck,
    BottleneckUnit,
    nn.Sequential,
    nn.ModuleList,
    SeqConv2d,
    nn.Conv2d,
    SeqConvTranspose2d,
    nn.ConvTranspose2d,
    TdBatchNorm,
    LIF,
    nn.Linear,
)

#: the largest node the exporter writes (weights), in parameters: 2**26 float64 = 512 MiB
MAX_NODE_PARAMS = 2**26


@dataclass(frozen=True)
class Tensor:
    """A value flowing between nodes: producer node, logical shape, polyphase factor."""

    node: str
    channels: int
    height: int  # logical (full-resolution) size
    width: int
    phases: int = 1

    @property
    def nir_shape(self) -> tuple[int, int, int]:
        p = self.phases
        return (p * p * self.channels, self.height // p, self.width // p)


class _Builder:
    def __init__(self, names: dict[nn.Module, str]) -> None:
        self.nodes: dict[str, nir.NIRNode] = {}
        self.edges: list[tuple[str, str]] = []
        self.names = names  # module -> dotted path, for node metadata and errors

    def add(self, name: str, node: nir.NIRNode, *sources: Tensor, module=None, phases: int = 1) -> str:
        if name in self.nodes:
            raise AssertionError(f"duplicate node name {name}")
        if module is not None:
            node.metadata[cv.KEY_MODULE] = self.names.get(module, type(module).__name__)
        if phases > 1:
            node.metadata[cv.KEY_PHASES] = phases
        self.nodes[name] = node
        self.edges.extend((s.node, name) for s in sources)
        return name

    # ---- layers ----------------------------------------------------------------------
    def conv(self, name: str, x: Tensor, conv: nn.Conv2d, bn: TdBatchNorm | None) -> Tensor:
        weight, bias = fold_conv(conv, bn)
        stride, pad = conv.stride[0], conv.padding[0]
        out_h = _conv_out(x.height, conv, 0)
        out_w = _conv_out(x.width, conv, 1)
        if x.phases == 1:
            self._check_size(name, conv, weight.size)
            node = nir.Conv2d(
                input_shape=(x.height, x.width),
                weight=weight,
                stride=conv.stride,
                padding=conv.padding,
                dilation=conv.dilation,
                groups=conv.groups,
                bias=bias,
            )
            self.add(name, node, x, module=conv)
            return Tensor(name, conv.out_channels, out_h, out_w)
        if (
            conv.stride[0] != conv.stride[1]
            or conv.padding[0] != conv.padding[1]
            or conv.kernel_size[0] != conv.kernel_size[1]
            or conv.dilation != (1, 1)
            or conv.groups != 1
            or x.phases % stride
        ):
            raise ExportError(
                f"layer {self.names.get(conv)!r}: a convolution after a stride-{x.phases} "
                f"decoder must be square, undilated, ungrouped, with a stride dividing "
                f"{x.phases}; got stride {conv.stride}, dilation {conv.dilation}"
            )
        self._check_size(name, conv, phase_kernel_params(weight.shape, stride, pad, x.phases))
        kernel, reach, q = conv_on_phases(weight, stride, pad, x.phases)
        if out_h != x.height // stride or out_w != x.width // stride:
            raise ExportError(
                f"layer {self.names.get(conv)!r}: output {out_h}x{out_w} is not "
                f"the input {x.height}x{x.width} divided by its stride"
            )
        node = nir.Conv2d(
            input_shape=x.nir_shape[1:],
            weight=kernel,
            stride=1,
            padding=reach,
            dilation=1,
            groups=1,
            bias=np.tile(bias, q * q),
        )
        self.add(name, node, x, module=conv, phases=q)
        return Tensor(name, conv.out_channels, out_h, out_w, q)

    def conv_transpose(
        self, name: str, x: Tensor, conv: nn.ConvTranspose2d, bn: TdBatchNorm | None
    ) -> Tensor:
        weight, bias = fold_conv(conv, bn)
        s = conv.stride[0]
        square = (
            conv.stride[0] == conv.stride[1]
            and conv.padding[0] == conv.padding[1]
            and conv.output_padding[0] == conv.output_padding[1]
            and conv.kernel_size[0] == conv.kernel_size[1]
        )
        if x.phases != 1 or not square or conv.dilation != (1, 1) or conv.groups != 1:
            raise ExportError(
                f"layer {self.names.get(conv)!r}: only square, undilated, ungrouped transposed "
                f"convolutions of a plain map are exported"
            )
        pad, k, extra = conv.padding[0], conv.kernel_size[0], conv.output_padding[0]
        out_h = (x.height - 1) * s - 2 * pad + k + extra
        out_w = (x.width - 1) * s - 2 * pad + k + extra
        if out_h != s * x.height or out_w != s * x.width:
            raise ExportError(
                f"layer {self.names.get(conv)!r}: output {out_h}x{out_w} is not {s} times the "
                f"input {x.height}x{x.width}; only such transposed convolutions are exported"
            )
        kernel, reach = conv_transpose_to_phases(weight, s, conv.padding[0])
        self._check_size(name, conv, kernel.size)
        node = nir.Conv2d(
            input_shape=(x.height, x.width),
            weight=kernel,
            stride=1,
            padding=reach,
            dilation=1,
            groups=1,
            bias=np.tile(bias, s * s),
        )
        self.add(name, node, x, module=conv, phases=s)
        return Tensor(name, conv.out_channels, out_h, out_w, s)

    def neuron(self, name: str, lif: LIF, *inputs: Tensor) -> Tensor:
        x = inputs[0]
        for other in inputs[1:]:
            if other.nir_shape != x.nir_shape or other.phases != x.phases:
                raise ExportError(
                    f"{name}: summed inputs differ in shape ({x.nir_shape} vs {other.nir_shape})"
                )
        self.add(name, lif_node(lif.params, x.nir_shape), *inputs, module=lif, phases=x.phases)
        return Tensor(name, x.channels, x.height, x.width, x.phases)

    def head(self, x: Tensor, fc: nn.Linear, norm: TdBatchNorm | None = None) -> str:
        c, h, w = x.nir_shape
        size = np.array([h, w])
        self.add(
            "head.pool",
            nir.AvgPool2d(kernel_size=size, stride=size, padding=np.array([0, 0])),
            x,
            phases=x.phases,
        )
        self.add(
            "head.flatten",
            nir.Flatten(input_type={"input": np.array([c, 1, 1])}, start_dim=0, end_dim=-1),
            Tensor("head.pool", c, 1, 1),
        )
        weight = fc.weight.detach().double().cpu().numpy()
        bias = fc.bias.detach().double().cpu().numpy()
        if norm is not None:  # the pooled features' norm folds into the FC: W (a x + s) + b
            scale, shift = (t.cpu().numpy() for t in norm.folded())
            weight, bias = weight * scale[None, :], weight @ shift + bias
        p = x.phases
        # the mean over the full map is the mean over every phase's positions
        weight = np.tile(weight, (1, p * p)) / (p * p)
        self.add("head.fc", nir.Affine(weight=weight, bias=bias), Tensor("head.flatten", c, 1, 1), module=fc)
        classes = weight.shape[0]
        self.add("output", nir.Output(output_type=np.array([classes])), Tensor("head.fc", classes, 1, 1))
        return "output"

    def _check_size(self, name: str, module, params: int) -> None:
        if params > MAX_NODE_PARAMS:
            raise ExportError(
                f"layer {self.names.get(module, name)!r} would become a NIR node of {params:,} "
                f"parameters ({params * 8 / 2**20:,.0f} MiB in float64), over the limit of "
                f"{MAX_NODE_PARAMS:,}"
            )


def lif_node(params: LIFParameters, shape: tuple[int, ...]) -> nir.NIRNode:
    """The NIR neuron (IF for k = 1, else LIF) that reproduces the iterative LIF at dt = 1."""
    full = lambda value: np.full(shape, value, dtype=np.float64)
    threshold = full(cv.lif_threshold(params.v_th))
    if params.decay == 1.0:
        return nir.IF(r=full(cv.if_resistance()), v_threshold=threshold, v_reset=full(0.0))
    tau, r = cv.lif_parameters(params.decay)
    return nir.LIF(tau=full(tau), r=full(r), v_leak=full(0.0), v_threshold=threshold, v_reset=full(0.0))


def export_nir(model: nn.Module) -> nir.NIRGraph:
    """The NIR graph of a spiking ``ResNet`` or a spiking ``SplitModel`` (SpikeBottleNet)."""
    backbone, unit, split = _parts(model)
    _check_modules(model)
    names = {m: n or type(model).__name__ for n, m in model.named_modules()}
    config = model.config
    b = _Builder(names)
    size = config.image_size
    b.add("input", nir.Input(input_type=np.array([config.in_channels, size, size])))
    x = Tensor("input", config.in_channels, size, size)

    conv, bn, lif = backbone.stem
    x = b.neuron("stem.lif", lif, b.conv("stem.conv", x, conv, bn))
    for k, block in enumerate(backbone.blocks, start=1):
        x = _block(b, f"rb{k}", block, x)
        if k == split:
            x = b.neuron("encoder.lif", unit.enc_act, b.conv("encoder.conv", x, unit.enc_conv, unit.enc_bn))
            x = b.neuron(
                "decoder.lif", unit.dec_act, b.conv_transpose("decoder.conv", x, unit.dec_conv, unit.dec_bn)
            )
    b.head(x, backbone.fc, backbone.head_norm)
    return nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata=graph_metadata(model), type_check=True)


def graph_metadata(model: nn.Module) -> dict:
    config = model.config
    meta = {
        cv.KEY_SCHEMA: cv.SCHEMA,
        "sbn.producer": f"sbn {__version__}",
        "sbn.arch": config.arch,
        cv.KEY_DT: cv.EXPORT_DT,
        cv.KEY_TIME_STEPS: config.time_steps,
        cv.KEY_INTEGRATION: cv.INTEGRATION,
        cv.KEY_THRESHOLD: cv.THRESHOLD_RULE,
        cv.KEY_RESET: cv.RESET_RULE,
        cv.KEY_INPUT_ENCODING: cv.INPUT_ENCODING,
        cv.KEY_READOUT: cv.READOUT,
        "sbn.lif_decay": float(config.lif.decay),
        "sbn.lif_v_th": float(config.lif.v_th),
        "sbn.num_classes": config.num_classes,
        "sbn.num_blocks": config.num_blocks,
    }
    if config.bottleneck is not None:
        meta["sbn.split"] = config.bottleneck.split_name
        meta["sbn.cut"] = "encoder.lif"
    return meta


# ---- helpers -----------------------------------------------------------------------------
def _parts(model: nn.Module):
    config = getattr(model, "config", None)
    if isinstance(model, SplitModel):
        backbone, unit, split = model.backbone, model.bottleneck, model.split
    elif isinstance(model, ResNet):
        backbone, unit, split = model, None, None
    else:
        raise ExportError(
            f"cannot export a {type(model).__name__}: export_nir takes a spiking ResNet or a "
            f"SplitModel (SpikeBottleNet) from sbn.models"
        )
    if config is None or config.kind != "spiking":
        raise ExportError(
            f"NIR export is for spiking networks; this is a {config.arch if config else '?'} "
            f"(real-valued) model"
        )
    return backbone, unit, split


def _check_modules(model: nn.Module) -> None:
    for name, module in model.named_modules():
        if type(module) not in SUPPORTED_MODULES:
            supported = ", ".join(sorted({t.__name__ for t in SUPPORTED_MODULES}))
            raise ExportError(
                f"module {name!r} ({type(module).__name__}) is not supported by the NIR "
                f"exporter (supported: {supported})"
            )
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) and module.padding_mode != "zeros":
            raise ExportError(
                f"module {name!r}: padding mode {module.padding_mode!r} is not supported (zeros only)"
            )


def _block(b: _Builder, name: str, block: Bottleneck, x: Tensor) -> Tensor:
    y = b.neuron(f"{name}.lif1", block.sn1, b.conv(f"{name}.conv1", x, block.conv1, block.bn1))
    y = b.neuron(f"{name}.lif2", block.sn2, b.conv(f"{name}.conv2", y, block.conv2, block.bn2))
    y = b.conv(f"{name}.conv3", y, block.conv3, block.bn3)
    shortcut = x
    if block.downsample is not None:
        conv, bn = block.downsample
        shortcut = b.conv(f"{name}.downsample", x, conv, bn)
    return b.neuron(f"{name}.lif3", block.sn3, y, shortcut)


def _conv_out(size: int, conv: nn.Conv2d, dim: int) -> int:
    k, s, p, d = conv.kernel_size[dim], conv.stride[dim], conv.padding[dim], conv.dilation[dim]
    if isinstance(p, str):
        raise ExportError(f"string padding {p!r} is not supported")
    return (size + 2 * p - d * (k - 1) - 1) // s + 1
