"""Training of the X-ray image CNN (torch, CPU) and its export to ONNX.

Only this module imports torch (the optional ``[train-image]`` extra); serving
uses :mod:`zeikan.images.scorer` with onnxruntime. The network is a tiny
fully convolutional CNN whose last 1x1 convolution gives a class activation map
(CAM); the image logit is a log-sum-exp (smooth max) pool of the CAM, so a small
package anywhere in the container can raise the score, and the CAM itself is the
heatmap (second ONNX output).
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

from zeikan.images.dataset import MODEL_PITCH_MM, MODEL_SHAPE, RenderedSet

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


class TinyCam(nn.Module):
    """Four conv blocks -> 1x1 conv CAM at 1/4 resolution -> log-sum-exp pooled logit."""

    def __init__(self) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.features = nn.Sequential(
            *block(MODEL_SHAPE[0], 16), nn.MaxPool2d(2),
            *block(16, 32), nn.MaxPool2d(2),
            *block(32, 48), *block(48, 48),
        )
        self.cam = nn.Conv2d(48, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (logit per image, CAM logits ``(N, 1, H/4, W/4)``)."""
        cam = self.cam(self.features(x * INPUT_SCALE))
        flat = cam.flatten(1)
        logit = (torch.logsumexp(LSE_SHARPNESS * flat, dim=1) - float(np.log(flat.shape[1]))) / LSE_SHARPNESS
        return logit, cam


class _Exported(nn.Module):
    """The serving graph: probabilities for the score and the heatmap."""

    def __init__(self, net: TinyCam) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logit, cam = self.net(x)
        return torch.sigmoid(logit), torch.sigmoid(cam)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Scanner-like perturbations: global gain, low/high channel balance, noise, horizontal offset."""
    n = x.shape[0]
    gain = 1.0 + 0.08 * (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1)
    balance = torch.ones(n, 2, 1, 1)
    balance[:, 0] += 0.08 * (torch.rand(n, 1, 1, generator=gen) * 2 - 1)
    noise = 0.03 * torch.randn(x.shape, generator=gen) * (x > 0)
    return x * gain * balance + noise


def train(data: RenderedSet, config: TrainConfig = TrainConfig(), log=print) -> TinyCam:
    """Train the CNN on a rendered set (labels: 1 = concealment)."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    net = TinyCam()
    x = torch.from_numpy(np.ascontiguousarray(data.x, dtype=np.float32))
    y = torch.from_numpy(data.y.astype(np.float32))
    opt = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    steps = config.epochs * ((len(y) + config.batch_size - 1) // config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.learning_rate, total_steps=steps)
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(config.epochs):
        net.train()
        order = torch.randperm(len(y), generator=gen)
        total, started = 0.0, time.perf_counter()
        for i in range(0, len(y), config.batch_size):
            idx = order[i : i + config.batch_size]
            logit, _ = net(_augment(x[idx], gen))
            loss = loss_fn(logit, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        log(f"epoch {epoch + 1}/{config.epochs} loss {total / len(y):.4f} ({time.perf_counter() - started:.0f} s)")
    return net.eval()


def predict(net: TinyCam, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """Probabilities of concealment for model inputs (torch, for checking the export)."""
    net.eval()
    with torch.no_grad():
        parts = [torch.sigmoid(net(torch.from_numpy(x[i : i + batch]))[0]).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(parts)


def export(net: TinyCam, out_dir: Path, metadata: dict) -> Path:
    """Write ``model.onnx`` and ``metadata.json`` (version = hash of the ONNX bytes) to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    dummy = torch.zeros((1, *MODEL_SHAPE))
    torch.onnx.export(
        _Exported(net.eval()), (dummy,), str(path), dynamo=False, opset_version=OPSET,
        input_names=["image"], output_names=["score", "heatmap"],
        dynamic_axes={"image": {0: "batch"}, "score": {0: "batch"}, "heatmap": {0: "batch"}},
    )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    meta = {
        "version": f"xray-cnn-{digest[:12]}",
        "onnx_sha256": digest,
        "input_shape": list(MODEL_SHAPE),
        "pitch_mm": MODEL_PITCH_MM,
        "opset": OPSET,
        **metadata,
    }
    (out_dir / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


def config_dict(config: TrainConfig) -> dict:
    """A training config as JSON-ready metadata."""
    return asdict(config)
