"""Active vs random annotation, measured: labels needed on a new scanner model to reach an AUC.

Setting: the CNN was trained on other scanner models; a site adds a new one and
officers label some of its images. A light head (L2 logistic regression on
features pooled from the frozen CNN's score and heatmap) is refit on the labels
after every round. *Active* picks the pool images the head is least sure of
(the annotation queue's uncertainty term); *random* picks at random. The result
is the AUC curve of each and the labels each needs to reach the target AUC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zeikan.images.evaluation_metrics import roc_auc


def heatmap_features(scores: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Features per image: score logit, heatmap max/mean/std/top-8 mean and a 4x8 grid of region maxima."""
    n = len(scores)
    flat = heatmaps.reshape(n, -1)
    top = np.sort(flat, axis=1)[:, -8:].mean(axis=1)
    h, w = heatmaps.shape[1:]
    grid = heatmaps[:, : h // 4 * 4, : w // 8 * 8].reshape(n, 4, h // 4, 8, w // 8).max(axis=(2, 4)).reshape(n, -1)
    p = np.clip(scores, 1e-6, 1 - 1e-6)
    return np.column_stack([np.log(p / (1 - p)), flat.max(axis=1), flat.mean(axis=1), flat.std(axis=1), top, grid])


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 25) -> np.ndarray:
    """Weights (bias last) of an L2 logistic regression fitted by Newton's method."""
    xb = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(xb.shape[1])
    reg = l2 * np.eye(xb.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) + reg @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + reg + 1e-9 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w


def predict_logistic(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Probabilities of a fitted logistic regression."""
    return 1.0 / (1.0 + np.exp(-(np.column_stack([x, np.ones(len(x))]) @ w)))


@dataclass(frozen=True)
class Curve:
    """AUC on the test set after each labelling round."""

    labels: list[int]
    auc: list[float]

    def labels_to_reach(self, target: float) -> int | None:
        """Fewest labels whose AUC reaches ``target`` (None if never)."""
        return next((n for n, a in zip(self.labels, self.auc) if a >= target), None)


def run_curve(
    pool_x: np.ndarray, pool_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
    strategy: str, seed: int, start: int = 10, step: int = 10, rounds: int = 15,
) -> Curve:
    """Label ``start`` random pool images, then ``step`` more per round by ``strategy`` (active|random)."""
    rng = np.random.default_rng(seed)
    mean, std = pool_x.mean(axis=0), pool_x.std(axis=0) + 1e-6
    px, tx = (pool_x - mean) / std, (test_x - mean) / std
    labelled = list(rng.choice(len(pool_y), size=start, replace=False))
    sizes, aucs = [], []
    for _ in range(rounds + 1):
        y = pool_y[labelled].astype(float)
        if 0 < y.sum() < len(y):
            w = fit_logistic(px[labelled], y)
            aucs.append(roc_auc(test_y, predict_logistic(w, tx)))
            p_pool = predict_logistic(w, px)
        else:
            aucs.append(0.5)
            p_pool = np.full(len(pool_y), 0.5)
        sizes.append(len(labelled))
        rest = np.setdiff1d(np.arange(len(pool_y)), labelled)
        if len(rest) == 0:
            break
        if strategy == "active":
            picks = rest[np.argsort(np.abs(p_pool[rest] - 0.5), kind="stable")[:step]]
        else:
            picks = rng.choice(rest, size=min(step, len(rest)), replace=False)
        labelled.extend(int(i) for i in picks)
    return Curve(sizes, aucs)


def experiment(
    features: np.ndarray, y: np.ndarray, seeds: int = 5, test_share: float = 0.4,
    start: int = 10, step: int = 10, rounds: int = 15, target_share: float = 0.98,
) -> dict:
    """Active vs random over ``seeds`` splits; the target AUC is ``target_share`` of the all-labels AUC."""
    out: dict = {"seeds": seeds, "start": start, "step": step, "target_share": target_share, "runs": []}
    for seed in range(seeds):
        order = np.random.default_rng(1000 + seed).permutation(len(y))
        n_test = int(len(y) * test_share)
        test, pool = order[:n_test], order[n_test:]
        mean, std = features[pool].mean(axis=0), features[pool].std(axis=0) + 1e-6
        w_all = fit_logistic((features[pool] - mean) / std, y[pool].astype(float))
        full_auc = roc_auc(y[test], predict_logistic(w_all, (features[test] - mean) / std))
        target = target_share * full_auc
        curves = {s: run_curve(features[pool], y[pool], features[test], y[test], s, seed, start, step, rounds)
                  for s in ("active", "random")}
        out["runs"].append({
            "full_pool_labels": int(len(pool)), "full_pool_auc": full_auc, "target_auc": target,
            **{f"{s}_labels_to_target": c.labels_to_reach(target) for s, c in curves.items()},
            **{f"{s}_curve": [[n, round(a, 4)] for n, a in zip(c.labels, c.auc)] for s, c in curves.items()},
        })
    for s in ("active", "random"):
        reached = [r[f"{s}_labels_to_target"] for r in out["runs"]]
        out[f"{s}_labels_to_target_mean"] = float(np.mean([v for v in reached if v is not None])) if any(v is not None for v in reached) else None
        out[f"{s}_reached"] = sum(v is not None for v in reached)
        out[f"{s}_final_auc_mean"] = float(np.mean([r[f"{s}_curve"][-1][1] for r in out["runs"]]))
    return out
