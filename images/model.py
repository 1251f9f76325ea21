"""Training of the X-ray image model (torch, CPU) and its export to ONNX.

Only this module and its augmentation (:mod:`zeikan.images.physics_randomisation`) import torch (the optional
``[train-image]`` extra); serving
uses :mod:`zeikan.images.scorer` with onnxruntime. Two tiny fully convolutional
stages, one ONNX graph:

* :class:`TinyCam` (stage 1) sees the input averaged to 50 mm; its last 1x1
  convolution gives a class activation map (CAM); its logit is a log-sum-exp
  (smooth max) pool of the CAM, trained from image labels only, so a small
  package anywhere in the container can raise the score;
* :class:`FineCam` (stage 2) sees the full 25 mm input (a 250 mm package is
  10 pixels, not 5) and is trained on 1.6 m x 3.2 m patches with a target per
  200 mm cell from the concealment's box (:func:`train_fine`); its logit is the
  maximum cell;
* :class:`ManifestHead`: a per-scan correction of that sum from the declared
  goods (second input ``manifest``, :mod:`zeikan.images.manifest`) and the
  share of the load the image shows opaque, so an opaque block counts against
  a load only where no heavy goods are declared (:func:`train_head`, on images
  neither stage was trained on);
* :class:`TwoStageCam`: score logit = stage 1 + stage 2 + head - ``offset`` (the
  offset puts the engine's exam threshold at a false-alarm rate under the bound on the
  held-out scanner's clean scans: see :func:`operating_offset`);
  heatmap = the larger of the two CAMs, both on the 200 mm grid. Without a head the
  graph takes the image alone (input ``image``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zeikan.images.dataset import COARSE_POOL, HEATMAP_CELL_MM, HEATMAP_SHAPE, MODEL_PITCH_MM, MODEL_SHAPE, RenderedSet
from zeikan.images.manifest import MANIFEST_FEATURES, MANIFEST_SIZE, MODEL_INPUTS
from zeikan.images.physics_randomisation import randomise_physics

OPSET = 17
INPUT_SCALE = 0.25
"""attenuation is multiplied by this inside the network (typical goods reach 4-12)"""
LSE_SHARPNESS = 4.0


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run (small enough for a few CPU minutes)."""

    epochs: int = 12
    batch_size: int = 32
    learning_rate: float = 3e-3
    threads: int = 2
    seed: int = 0
    fine_epochs: int = 16
    """epochs of stage 2 (one patch per training image each)"""
    head_hidden: int = 4
    """hidden units of the manifest head"""
    head_epochs: int = 800
    """full-batch epochs of the manifest head"""
    head_learning_rate: float = 3e-3
    head_weight_decay: float = 1e-3
    head_clean_weight: float = 3.0
    """weight of a clean scan against a concealed one in the head's loss (the exam threshold sits in the clean scans' tail)"""
    physics_jitter: float = 0.0
    """scale of the randomised scanner physics both stages train through (:mod:`zeikan.images.physics_randomisation`; 0: none)"""
    stage1_further_epochs: int = 0
    """epochs stage 1 goes on training when a model's stages are kept (``--stages-from``); 0: kept as it is"""
    displaced_goods: float = 0.0
    """share of the stages' among-goods concealments whose package displaces goods (:mod:`zeikan.images.package_displacement`; 0: none)"""


def smooth_max(cam: torch.Tensor) -> torch.Tensor:
    """Log-sum-exp pool of CAM logits per image (any shape after the batch axis), normalised by the cell count."""
    flat = cam.flatten(1)
    return (torch.logsumexp(LSE_SHARPNESS * flat, dim=1) - float(np.log(flat.shape[1]))) / LSE_SHARPNESS


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class TinyCam(nn.Module):
    """Stage 1: 2x2 mean (50 mm) -> four conv blocks -> 1x1 conv CAM at 200 mm cells -> log-sum-exp pooled logit."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(COARSE_POOL)
        self.features = nn.Sequential(
            *_block(MODEL_SHAPE[0], 16), nn.MaxPool2d(2),
            *_block(16, 32), nn.MaxPool2d(2),
            *_block(32, 48), *_block(48, 48),
        )
        self.cam = nn.Conv2d(48, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (logit per image, CAM logits ``(N, 1, H/8, W/8)``) of 25 mm inputs."""
        cam = self.cam(self.features(self.pool(x) * INPUT_SCALE))
        return smooth_max(cam), cam


class FineCam(nn.Module):
    """Stage 2: five conv blocks at 25 mm, three 2x poolings -> 1x1 conv CAM at 200 mm cells (receptive field 1.35 m)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(MODEL_SHAPE[0], 16), nn.MaxPool2d(2),
            *_block(16, 32), nn.MaxPool2d(2),
            *_block(32, 48), nn.MaxPool2d(2),
            *_block(48, 64), *_block(64, 64),
        )
        self.cam = nn.Conv2d(64, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """CAM logits ``(N, H/8, W/8)``: one per 200 mm cell."""
        return self.cam(self.features(x * INPUT_SCALE))[:, 0]


OPACITY_LEVELS = (5.0, 7.0)
"""high-energy attenuation levels whose share of the loaded area the head reads (heavy goods reach them, other goods rarely)"""
LOADED_LEVEL = 0.5
"""attenuation above which a pixel counts as loaded (container structure included)"""


def opacity(x: torch.Tensor) -> torch.Tensor:
    """Share of the loaded pixels above each of :data:`OPACITY_LEVELS` ``(N, levels)`` (high-energy channel)."""
    high = x[:, -1]
    loaded = (high > LOADED_LEVEL).float().flatten(1).sum(dim=1).clamp(min=1.0)
    return torch.stack([(high > level).float().flatten(1).sum(dim=1) / loaded for level in OPACITY_LEVELS], dim=1)


HEAD_INPUTS: tuple[str, ...] = ("stage1_logit", "stage2_logit", *(f"opaque_above_{v:g}" for v in OPACITY_LEVELS), *MANIFEST_FEATURES)


class ManifestHead(nn.Module):
    """Per-scan correction of the stages' logit from :data:`HEAD_INPUTS`; starts at zero (no correction)."""

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(len(HEAD_INPUTS), hidden), nn.ReLU(), nn.Linear(hidden, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Correction logit ``(N,)`` of head inputs ``(N, len(HEAD_INPUTS))``."""
        return self.net(inputs)[:, 0]


class TwoStageCam(nn.Module):
    """Both stages and the manifest head in one graph: (probability, heatmap ``(N, 1, 16, 64)``) of 25 mm inputs and manifests.

    ``head`` None: no manifest head, the score is the stages' alone and the graph ignores the manifest.
    """

    def __init__(self, coarse: TinyCam, fine: FineCam, offset: float, head: ManifestHead | None = None) -> None:
        super().__init__()
        self.coarse, self.fine, self.offset = coarse, fine, float(offset)
        self.head = head

    def logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(stage 1 logit, stage 2 logit, CAM of the larger) per image."""
        coarse_logit, coarse_cam = self.coarse(x)
        fine_cam = self.fine(x)
        return coarse_logit, fine_cam.flatten(1).amax(dim=1), torch.maximum(coarse_cam, fine_cam.unsqueeze(1))

    def forward(self, x: torch.Tensor, manifest: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        coarse_logit, fine_logit, cam = self.logits(x)
        logit = coarse_logit + fine_logit - self.offset
        if self.head is not None:
            logit = logit + self.head(torch.cat([coarse_logit[:, None], fine_logit[:, None], opacity(x), manifest], dim=1))
        return torch.sigmoid(logit), torch.sigmoid(cam)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Scanner-like perturbations: global gain, low/high channel balance, noise, horizontal offset."""
    n = x.shape[0]
    gain = 1.0 + 0.08 * (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1)
    balance = torch.ones(n, 2, 1, 1)
    balance[:, 0] += 0.08 * (torch.rand(n, 1, 1, generator=gen) * 2 - 1)
    noise = 0.03 * torch.randn(x.shape, generator=gen) * (x > 0)
    return x * gain * balance + noise


def _train_mode(net: nn.Module, frozen_norms: bool) -> None:
    """Training mode; ``frozen_norms``: the batch norms stay in eval mode and are not trained (a net loaded from an
    export has them folded into its convolutions, so batch statistics would undo them)."""
    net.train()
    if frozen_norms:
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
                m.requires_grad_(False)


def _seeded(config: TrainConfig) -> torch.Generator:
    """Threads and seeds of a training run; the generator of its augmentations."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    return torch.Generator().manual_seed(config.seed)


def _optimiser(net: nn.Module, config: TrainConfig, steps: int):
    """AdamW with a one-cycle learning rate over ``steps`` batches."""
    opt = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.learning_rate, total_steps=steps)


def _step(opt: torch.optim.Optimizer, sched, loss: torch.Tensor) -> float:
    """One optimiser step on ``loss``; returns its value."""
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    return loss.item()


def train(data: RenderedSet, config: TrainConfig = TrainConfig(), log=print, start: TinyCam | None = None) -> TinyCam:
    """Train stage 1 on a rendered set (labels: 1 = concealment); ``start``: a stage 1 loaded from an export to go on
    training (its batch norms frozen) instead of a new one."""
    gen = _seeded(config)
    net = start if start is not None else TinyCam()
    x = torch.from_numpy(np.ascontiguousarray(data.x, dtype=np.float32))
    y = torch.from_numpy(data.y.astype(np.float32))
    opt, sched = _optimiser(net, config, config.epochs * ((len(y) + config.batch_size - 1) // config.batch_size))
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(config.epochs):
        _train_mode(net, frozen_norms=start is not None)
        order = torch.randperm(len(y), generator=gen)
        total, started = 0.0, time.perf_counter()
        for i in range(0, len(y), config.batch_size):
            idx = order[i : i + config.batch_size]
            logit, _ = net(_augment(randomise_physics(x[idx], gen, config.physics_jitter), gen))
            total += _step(opt, sched, loss_fn(logit, y[idx])) * len(idx)
        log(f"epoch {epoch + 1}/{config.epochs} loss {total / len(y):.4f} ({time.perf_counter() - started:.0f} s)")
    return net.eval()


PATCH = (64, 128)
"""(rows, cols) of a stage-2 training patch: 1.6 m x 3.2 m, a whole number of heatmap cells"""
_CELL = int(HEATMAP_CELL_MM / MODEL_PITCH_MM)
POSITIVE_WEIGHT = 5.0
"""weight of a concealment cell against a clean one in stage 2's loss (few cells hold the package)"""


def cell_targets(box: np.ndarray, row: int, col: int) -> np.ndarray:
    """Stage-2 targets of the patch at (``row``, ``col``): 1 where a cell holds enough of the box, 0 where none, -1 (ignored) between.

    "Enough" is 30 % of the most of the box one cell can hold, so a 50 mm floor band still makes its cells positive.
    """
    rows, cols = PATCH[0] // _CELL, PATCH[1] // _CELL
    targets = np.zeros((rows, cols), np.float32)
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:
        return targets
    top, left = row + np.arange(rows) * _CELL, col + np.arange(cols) * _CELL
    over_rows = np.clip(np.minimum(top + _CELL, y + h) - np.maximum(top, y), 0, None)
    over_cols = np.clip(np.minimum(left + _CELL, x + w) - np.maximum(left, x), 0, None)
    overlap = np.outer(over_rows, over_cols)
    enough = 0.3 * min(_CELL, w) * min(_CELL, h)
    targets[(overlap > 0) & (overlap < enough)] = -1.0
    targets[overlap >= enough] = 1.0
    return targets


HARD_NEGATIVE_SHARE = 0.7
"""share of a clean heavy-goods load's stage-2 patches drawn over its opaque goods (hard negatives)"""


def heavy_clean(data: RenderedSet) -> np.ndarray:
    """Whether each image is a clean load that declares heavy goods (its opaque units are hard negatives for stage 2)."""
    return (data.y == 0) & (data.manifests[:, MANIFEST_FEATURES.index("heavy_share")] > 0)


def _patch_origin(rng: np.random.Generator, data: RenderedSet, i: int, extent: int, opaque: np.ndarray | None) -> tuple[int, int]:
    """A patch on the heatmap grid: over the concealment (70 % of a concealed image's draws), over an opaque pixel
    (``opaque``, ``(k, 2)`` rows and columns) of a clean heavy-goods load (:data:`HARD_NEGATIVE_SHARE`), else anywhere in the load."""
    height, width = MODEL_SHAPE[1:]
    if data.y[i] and rng.random() < 0.7:
        x, y, w, h = (float(v) for v in data.boxes[i])
        cx = x + rng.uniform(0.2, 0.8) * w if w > 3 * _CELL else x + w / 2
        row = (y + h / 2 - rng.uniform(12, PATCH[0] - 12)) // _CELL * _CELL
        col = (cx - rng.uniform(16, PATCH[1] - 16)) // _CELL * _CELL
    elif opaque is not None and len(opaque) and rng.random() < HARD_NEGATIVE_SHARE:
        r, c = opaque[rng.integers(len(opaque))]
        row = (r - rng.uniform(12, PATCH[0] - 12)) // _CELL * _CELL
        col = (c - rng.uniform(16, PATCH[1] - 16)) // _CELL * _CELL
    else:
        row = rng.integers(0, (height - PATCH[0]) // _CELL + 1) * _CELL
        col = rng.integers(0, max(1, (extent - PATCH[1] // 2) // _CELL) + 1) * _CELL
    return int(np.clip(row, 0, height - PATCH[0])), int(np.clip(col, 0, width - PATCH[1]))


def _augment_fine(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Stage 2's scanner perturbations, wider than stage 1's: gain, channel balance, response power, noise."""
    n = x.shape[0]
    gain = 1.0 + 0.15 * (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1)
    balance = torch.ones(n, 2, 1, 1)
    balance[:, 0] += 0.10 * (torch.rand(n, 1, 1, generator=gen) * 2 - 1)
    power = 1.0 + 0.08 * (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1)
    x = torch.clamp(x, min=0) ** power
    noise = 0.03 * torch.randn(x.shape, generator=gen) * (x > 0)
    return x * gain * balance + noise


def train_fine(data: RenderedSet, config: TrainConfig = TrainConfig(), log=print, start: FineCam | None = None) -> FineCam:
    """Train stage 2 on patches of a rendered set with its concealment boxes (a target per 200 mm cell).

    Clean loads that declare heavy goods give hard negatives: patches over their opaque units. ``start``: a
    stage 2 loaded from an export (for example a shipped one) to go on training, its batch norms frozen, instead of a new one.
    """
    gen = _seeded(config)
    rng = np.random.default_rng(config.seed)
    net = start if start is not None else FineCam()
    extents = [int(np.nonzero(col)[0].max()) + 1 if col.any() else MODEL_SHAPE[2] for col in (data.x[:, 1].max(axis=1) > 0.3)]
    hard = heavy_clean(data)
    opaque = {int(i): np.argwhere(data.x[i, 1] > OPACITY_LEVELS[-1]) for i in np.flatnonzero(hard)}
    batches = (len(data.y) + config.batch_size - 1) // config.batch_size
    opt, sched = _optimiser(net, config, config.fine_epochs * batches)
    for epoch in range(config.fine_epochs):
        _train_mode(net, frozen_norms=start is not None)
        order = rng.permutation(len(data.y))
        total, started = 0.0, time.perf_counter()
        for b in range(batches):
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            origins = [_patch_origin(rng, data, int(i), extents[i], opaque.get(int(i))) for i in idx]
            x = torch.from_numpy(np.stack([data.x[i, :, r : r + PATCH[0], c : c + PATCH[1]] for i, (r, c) in zip(idx, origins)]).astype(np.float32))
            targets = torch.from_numpy(np.stack([cell_targets(data.boxes[i], r, c) for i, (r, c) in zip(idx, origins)]))
            logits = net(_augment_fine(randomise_physics(x, gen, config.physics_jitter), gen))
            weight = (targets >= 0).float() * (1 + (POSITIVE_WEIGHT - 1) * targets.clamp(min=0))
            dense = nn.functional.binary_cross_entropy_with_logits(logits, targets.clamp(min=0), weight=weight, reduction="sum") / weight.sum()
            patch = nn.functional.binary_cross_entropy_with_logits(smooth_max(logits), (targets.flatten(1) > 0).any(dim=1).float())
            total += _step(opt, sched, dense + 0.5 * patch) * len(idx)
        log(f"stage 2 epoch {epoch + 1}/{config.fine_epochs} loss {total / len(data.y):.4f} ({time.perf_counter() - started:.0f} s)")
    return net.eval()


def head_inputs(net: TwoStageCam, x: np.ndarray, manifest: np.ndarray, batch: int = 16) -> np.ndarray:
    """:data:`HEAD_INPUTS` ``(N, len(HEAD_INPUTS))`` of model inputs and their manifests (torch, no gradient)."""
    net.eval()
    parts = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(np.ascontiguousarray(x[i : i + batch], dtype=np.float32))
            coarse, fine, _ = net.logits(xb)
            parts.append(torch.cat([coarse[:, None], fine[:, None], opacity(xb), torch.from_numpy(manifest[i : i + batch])], dim=1).numpy())
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, len(HEAD_INPUTS)), np.float32)


def combined_logits(net: TwoStageCam, inputs: np.ndarray) -> np.ndarray:
    """Stage 1 + stage 2 + head logits (before the offset) of head inputs (no head: the stages' sum)."""
    with torch.no_grad():
        t = torch.from_numpy(inputs)
        return (t[:, 0] + t[:, 1] + (net.head(t) if net.head is not None else 0.0)).numpy().astype(np.float64)


HEAD_DROPPED = 0.2
"""share of the head's training scans shown without their declaration (a scan with none must still be scored)"""


def train_head(net: TwoStageCam, data: RenderedSet, config: TrainConfig = TrainConfig(), log=print) -> ManifestHead:
    """Fit the manifest head on a rendered set that neither stage was trained on (stages frozen, full batch).

    A share (:data:`HEAD_DROPPED`) of the scans, drawn anew each epoch, loses its declaration.
    """
    gen = _seeded(config)
    inputs = torch.from_numpy(head_inputs(net, data.x, data.manifests))
    y = torch.from_numpy(data.y.astype(np.float32))
    base = inputs[:, 0] + inputs[:, 1]
    head = ManifestHead(config.head_hidden)
    opt = torch.optim.AdamW(head.parameters(), lr=config.head_learning_rate, weight_decay=config.head_weight_decay)
    weight = torch.where(y > 0, 1.0, config.head_clean_weight)
    first = slice(0, 2 + len(OPACITY_LEVELS))
    for epoch in range(config.head_epochs):
        dropped = torch.rand(len(y), generator=gen) < HEAD_DROPPED
        shown = inputs.clone()
        shown[dropped, first.stop:] = 0.0
        loss = nn.functional.binary_cross_entropy_with_logits(base + head(shown), y, weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (epoch + 1) % max(1, config.head_epochs // 4) == 0:
            log(f"head epoch {epoch + 1}/{config.head_epochs} loss {loss.item():.4f}")
    return head.eval()


EXAM_RATE_TARGET = 0.007
"""share of the held-out scanner's clean scans that may pass the engine's exam threshold: a margin under the
1 % false-alarm bound, so that a scanner the model never saw does not break it"""


def operating_offset(combined_clean: np.ndarray, exam_threshold: float, target: float = EXAM_RATE_TARGET) -> float:
    """Offset of the combined logit so that at most ``target`` of the clean scans score above ``exam_threshold``.

    The engine's one exam threshold is then the model's operating point: on the held-out scanner's clean
    scans it examines ``floor(target * n)`` of ``n`` at most. The threshold sits :data:`FLOAT_MARGIN` above
    the first clean scan that may not pass, so the exported graph's float error does not carry it across.
    """
    ranked = np.sort(np.asarray(combined_clean, dtype=np.float64))[::-1]
    if not len(ranked):
        raise ValueError("no clean scans to set the operating point on")
    allowed = int(np.floor(target * len(ranked)))
    return float(ranked[allowed] + FLOAT_MARGIN - np.log(exam_threshold / (1.0 - exam_threshold)))


FLOAT_MARGIN = 0.01
"""logit margin of the exam threshold above a clean scan it must not pass (ONNX and torch differ by ~1e-4 there)"""


def predict(net: nn.Module, x: np.ndarray, manifest: np.ndarray, batch: int = 16) -> np.ndarray:
    """Probabilities of concealment for model inputs and their manifests (torch, for checking the export)."""
    net.eval()
    with torch.no_grad():
        parts = [net(torch.from_numpy(np.ascontiguousarray(x[i : i + batch], dtype=np.float32)),
                     torch.from_numpy(np.ascontiguousarray(manifest[i : i + batch], dtype=np.float32)))[0].numpy()
                 for i in range(0, len(x), batch)]
    return np.concatenate(parts)


def _onnx_weights(path: Path) -> tuple[list, dict[str, np.ndarray]]:
    """The Conv nodes of an exported graph (in forward order) and its initialisers by name."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    weights.update({node.output[0]: weights[node.input[0]] for node in graph.node
                    if node.op_type == "Identity" and node.input[0] in weights})  # the exporter's shared constants
    return [node for node in graph.node if node.op_type == "Conv"], weights


def _load_folded(net: TinyCam | FineCam, convs: list, weights: dict[str, np.ndarray]) -> None:
    """Copy exported convolutions (batch norms folded into them) into ``net``: identity norms, the CAM last."""
    layers = [m for m in net.features if isinstance(m, nn.Conv2d)]
    norms = [m for m in net.features if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for node, conv, norm in zip(convs, layers, norms):
            conv.weight.copy_(torch.from_numpy(weights[node.input[1]].copy()))
            norm.weight.fill_(1.0)
            norm.bias.copy_(torch.from_numpy(weights[node.input[2]].copy()))
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
        net.cam.weight.copy_(torch.from_numpy(weights[convs[len(layers)].input[1]].copy()))
        net.cam.bias.copy_(torch.from_numpy(weights[convs[len(layers)].input[2]].copy()))
    net.eval()


def _conv_count(net: nn.Module) -> int:
    return sum(isinstance(m, nn.Conv2d) for m in net.modules())


def stage1_from_onnx(path: Path) -> TinyCam:
    """Stage 1 with the weights of a single-stage artefact (``model.onnx`` of input ``(2, 64, 256)``, batch norms folded).

    Lets a two-stage model keep a shipped stage 1 and train only stage 2.
    """
    convs, weights = _onnx_weights(path)
    net = TinyCam()
    if len(convs) != _conv_count(net):
        raise ValueError(f"{path}: {len(convs)} convolutions, a single-stage model has {_conv_count(net)}")
    _load_folded(net, convs, weights)
    return net


def stages_from_onnx(path: Path) -> tuple[TinyCam, FineCam]:
    """Both stages with the weights of a two-stage artefact (lets a model keep them and train only its manifest head)."""
    convs, weights = _onnx_weights(path)
    coarse, fine = TinyCam(), FineCam()
    if len(convs) != _conv_count(coarse) + _conv_count(fine):
        raise ValueError(f"{path}: {len(convs)} convolutions, a two-stage model has {_conv_count(coarse) + _conv_count(fine)}")
    _load_folded(coarse, convs[: _conv_count(coarse)], weights)
    _load_folded(fine, convs[_conv_count(coarse):], weights)
    return coarse, fine


def export(net: TwoStageCam, out_dir: Path, metadata: dict) -> Path:
    """Write ``model.onnx`` and ``metadata.json`` (version = hash of the ONNX bytes) to ``out_dir``.

    A net without a head exports a graph of the image alone.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    names = MODEL_INPUTS if net.head is not None else MODEL_INPUTS[:1]
    dummy = (torch.zeros((1, *MODEL_SHAPE)), torch.zeros((1, MANIFEST_SIZE)))[: len(names)]
    torch.onnx.export(
        net.eval(), dummy, str(path), dynamo=False, opset_version=OPSET,
        input_names=list(names), output_names=["score", "heatmap"],
        dynamic_axes={**{name: {0: "batch"} for name in names}, "score": {0: "batch"}, "heatmap": {0: "batch"}},
    )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    head = {"manifest_features": list(MANIFEST_FEATURES), "head_inputs": list(HEAD_INPUTS)} if net.head is not None else {}
    meta = {
        "version": f"xray-cnn-{digest[:12]}",
        "onnx_sha256": digest,
        "input_shape": list(MODEL_SHAPE),
        "inputs": list(names),
        **head,
        "pitch_mm": MODEL_PITCH_MM,
        "heatmap_shape": list(HEATMAP_SHAPE),
        "heatmap_cell_mm": HEATMAP_CELL_MM,
        "stage_offset": net.offset,
        "opset": OPSET,
        **metadata,
    }
    (out_dir / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


def config_dict(config: TrainConfig) -> dict:
    """A training config as JSON-ready metadata."""
    return asdict(config)
