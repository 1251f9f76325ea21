"""Randomised scanner physics (a training option, off by default) and fine-tuning an exported net with its batch norms frozen."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from zeikan.images import model as image_model  # noqa: E402
from zeikan.images import physics_randomisation as pr  # noqa: E402
from zeikan.images.dataset import NO_BOX, RenderedSet  # noqa: E402
from zeikan.images.manifest import MANIFEST_SIZE  # noqa: E402


def _inputs(n: int = 4, seed: int = 0) -> torch.Tensor:
    """Model-like inputs: a frame of attenuation 0.02-8 in the left 40 columns, zero padding beyond."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 2, 32, 64), np.float32)
    x[:, 1, :, :40] = rng.uniform(0.02, 8.0, (n, 32, 40))
    x[:, 0, :, :40] = 1.3 * x[:, 1, :, :40]
    return torch.from_numpy(x)


def _quiet(n: int, **changes) -> pr.ScannerDraw:
    """A draw that changes nothing (no noise to speak of), but for ``changes``."""
    fields = {"gain": 1.0, "tilt": 1.0, "hardening": 0.0, "afterglow": 0.0, "offset": 0.0, "photons": 1e30, "corrugation": 0.0,
              "corrugation_period": 8.0, "members": 0.0, "member_period": 20.0, "member_width": 1.0, "band_top": 0.0,
              "band_rows": 1000.0, "phase": 0.0}
    fields.update(changes)
    return pr.ScannerDraw(**{k: torch.full((n, 2) if k == "hardening" else (n,), float(v)) for k, v in fields.items()})


def test_jitter_zero_is_the_identity_and_draws_nothing():
    x, gen = _inputs(), torch.Generator().manual_seed(3)
    state = gen.get_state()
    assert pr.randomise_physics(x, gen, 0.0) is x
    assert torch.equal(gen.get_state(), state), "no draw: training without jitter sees the augmentations it always saw"
    assert image_model.TrainConfig().physics_jitter == 0.0, "off by default: the shipped training is unchanged"


def test_draws_stay_within_the_bounds_scaled_by_the_jitter():
    r, j, n = pr.RANGES, 0.5, 4000
    d = pr.draw(n, torch.Generator().manual_seed(0), j)
    assert float(d.gain.min()) >= np.exp(-j * r.log_gain) - 1e-6 and float(d.gain.max()) <= np.exp(j * r.log_gain) + 1e-6
    assert float(d.gain.max()) > np.exp(0.9 * j * r.log_gain), "the gain spans its range"
    assert float(d.offset.abs().max()) <= j * r.offset + 1e-7 and float(d.hardening.max()) <= j * r.hardening + 1e-7
    low = r.photons_max * (r.photons_min / r.photons_max) ** j
    assert float(d.photons.min()) >= low * (1 - 1e-5) and float(d.photons.max()) <= r.photons_max * (1 + 1e-5)
    assert float(d.photons.min()) < 1.1 * low, "the flux reaches the bound of its jitter"
    assert float(d.afterglow.max()) <= j * r.afterglow + 1e-7 and float(d.members.max()) <= j * r.members + 1e-7
    assert d.hardening.shape == (n, 2) and not torch.equal(d.hardening[:, 0], d.hardening[:, 1]), "each channel hardens on its own"


def test_randomised_inputs_change_keep_their_padding_and_repeat_for_a_seed():
    x = _inputs()
    a = pr.randomise_physics(x, torch.Generator().manual_seed(7), 1.0)
    b = pr.randomise_physics(x, torch.Generator().manual_seed(7), 1.0)
    c = pr.randomise_physics(x, torch.Generator().manual_seed(8), 1.0)
    assert torch.equal(a, b), "deterministic for a seed"
    assert not torch.allclose(a, c) and not torch.allclose(a, x)
    assert (a[..., 40:] == 0).all(), "the zero padding stays zero"
    ratio = (a[:, 1, :, :40] / x[:, 1, :, :40]).median(dim=1).values.median(dim=1).values
    assert (ratio > 0.6).all() and (ratio < 1.4).all(), "within the gain and hardening bounds the level moves, it is not lost"


def test_gain_tilt_and_hardening_act_on_attenuation_as_stated():
    x = _inputs(1)
    gained = pr.apply(x, _quiet(1, gain=1.1, tilt=0.95), torch.Generator().manual_seed(0), jitter=0.0)
    assert torch.allclose(gained[:, 1], 1.1 * x[:, 1], rtol=1e-5, atol=1e-5)
    assert torch.allclose(gained[:, 0], 1.1 * 0.95 * x[:, 0], rtol=1e-5, atol=1e-5), "the tilt scales the low channel only"
    hardened = pr.apply(x, _quiet(1, hardening=0.03), torch.Generator().manual_seed(0), jitter=0.0)
    assert torch.allclose(hardened, x / (1 + 0.03 * x), rtol=1e-5, atol=1e-5)


def test_photon_noise_grows_with_attenuation_as_the_signal_falls():
    x = torch.zeros((1, 2, 64, 64))
    x[..., :32] = 1.0
    x[..., 32:] = 6.0
    y = pr.apply(x, _quiet(1, photons=1e5), torch.Generator().manual_seed(0), jitter=0.0)
    thin, thick = float((y - x)[..., :32].std()), float((y - x)[..., 32:].std())
    assert thin == pytest.approx(np.exp(0.5) / np.sqrt(1e5), rel=0.1)
    assert thick / thin == pytest.approx(np.exp(2.5), rel=0.1)


def test_structure_adds_steel_in_the_frame_only_with_the_metal_ratio():
    x = _inputs(1)
    x[..., :8, :] = torch.where(x[..., :8, :] > 0, torch.full_like(x[..., :8, :], 0.01), x[..., :8, :])  # air above the container
    y = pr.apply(x, _quiet(1, members=0.2, member_period=10.0), torch.Generator().manual_seed(0), jitter=0.0)
    added = y - x
    assert torch.allclose(added[:, 0], pr.METAL_RATIO * added[:, 1], atol=1e-5)
    assert float(added[:, 1, 8:, :40].max()) == pytest.approx(0.2, abs=1e-5)
    assert (added[..., :8, :].abs() < 1e-5).all(), "air is not steel"
    band = pr.apply(x, _quiet(1, members=0.2, member_period=10.0, band_top=0.5, band_rows=4.0), torch.Generator().manual_seed(0), jitter=0.0)
    rows = ((band - x)[0, 1] > 1e-3).any(dim=1).nonzero().flatten().tolist()
    assert rows == [16, 17, 18, 19], "the members span their band of rows (half way down, 4 rows)"


def _tiny_set(n: int = 8) -> RenderedSet:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 4, (n, 2, 128, 512)).astype(np.float32)
    return RenderedSet(x, np.arange(n) % 2, ["none"] * n, ["s"] * n, [str(i) for i in range(n)],
                       np.array([NO_BOX] * n, np.float32), np.zeros((n, MANIFEST_SIZE), np.float32))


def test_a_stage_loaded_from_an_export_trains_further_with_its_batch_norms_frozen():
    net = image_model.TinyCam().eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    config = replace(image_model.TrainConfig(), epochs=1, batch_size=4, threads=1, physics_jitter=1.0)
    trained = image_model.train(_tiny_set(), config, log=lambda m: None, start=net)
    after = trained.state_dict()
    norms = [k for k in before if any(p in k for p in ("running_mean", "running_var")) or
             isinstance(dict(trained.named_modules()).get(k.rsplit(".", 1)[0]), torch.nn.BatchNorm2d)]
    assert norms and all(torch.equal(before[k], after[k]) for k in norms), "folded norms keep their statistics and parameters"
    assert not torch.equal(before["cam.weight"], after["cam.weight"]), "the convolutions train"
