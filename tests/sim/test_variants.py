"""World variants (mechanisms on/off, drift) and the generator's posterior, the oracle of the benchmarks."""

from __future__ import annotations

import numpy as np

from zeikan.sim.fraud import KINDS
from zeikan.sim.settings import SimSettings
from zeikan.sim.world import build_world, generate_day


def _days(settings: SimSettings, days: range) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    world = build_world(settings)
    out = [generate_day(world, d) for d in days]
    return (np.concatenate([d.fraud.is_fraud for d in out]), np.concatenate([d.fraud.kinds for d in out]),
            np.concatenate([d.fraud.probability for d in out]), np.concatenate([d.posterior for d in out]))


def _kind_share(kinds: np.ndarray, kind: str) -> float:
    return float(((kinds >> KINDS.index(kind)) & 1).sum() / max((kinds > 0).sum(), 1))


def test_a_switched_off_mechanism_never_happens() -> None:
    _, kinds, _, _ = _days(SimSettings(seed=3, per_day=800, mechanisms=("UNDERVALUATION", "QUANTITY")), range(3))
    assert (kinds > 0).sum() > 50
    assert set(np.unique(kinds[kinds > 0]).tolist()) <= {1, 4, 5}


def test_after_the_drift_day_the_kind_mix_changes() -> None:
    _, before, _, _ = _days(SimSettings(seed=3, per_day=800, drift_day=3), range(3))
    _, after, _, _ = _days(SimSettings(seed=3, per_day=800, drift_day=3), range(3, 6))
    assert _kind_share(after, "MISDECLARED_GOODS") > 1.5 * _kind_share(before, "MISDECLARED_GOODS")
    assert _kind_share(after, "UNDERVALUATION") < _kind_share(before, "UNDERVALUATION")


def test_the_posterior_is_calibrated_and_ranks_frauds_above_the_prior() -> None:
    fraud, _, prior, posterior = _days(SimSettings(seed=5, per_day=1000), range(6))
    k = len(fraud) // 20
    p5 = {name: fraud[np.argsort(-s, kind="stable")[:k]].mean() for name, s in (("prior", prior), ("post", posterior))}
    assert p5["post"] > 1.3 * p5["prior"]
    assert abs(posterior.mean() - fraud.mean()) < 0.3 * fraud.mean()
