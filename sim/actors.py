"""The traders of the synthetic world: importers, declarants (customs brokers), collusive networks.

Drawn once per run from the run's seed and shared by every day, so importer and
declarant histories carry over from day to day. Hidden attributes (honesty class,
fraud propensity, network membership) never appear in the event files; they leave
traces only through what the traders declare and what inspections find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zeikan.sim.catalog import COUNTRIES, GOODS, OFFICES, PRICE_LEVEL, origin_weights

HONEST, OCCASIONAL, SYSTEMATIC = 0, 1, 2
"""Hidden honesty classes of importers."""

_CLASS_SHARE = (0.86, 0.10, 0.04)
_CLASS_PROPENSITY = ((-3.3, 0.5), (-1.3, 0.5), (1.0, 0.6))
"""Fraud logit (mean, sd) by honesty class, before the route/goods terms."""
_WATCHLIST_RATE = (0.01, 0.08, 0.35)
"""Share of each honesty class on the customs intelligence watch list."""


@dataclass(frozen=True)
class Actors:
    """Every trader of the world, columnar (index = importer / declarant number)."""

    price: np.ndarray
    """[good, country] median unit price in USD."""
    importer_class: np.ndarray
    propensity: np.ndarray
    """Hidden fraud logit of each importer."""
    first_seen_day: np.ndarray
    """Day (relative to the start date) the importer first trades; negative = before the start."""
    volume: np.ndarray
    """Relative declaration volume (heavy tailed)."""
    home_office: np.ndarray
    heavy: np.ndarray
    """True when the importer ships goods too heavy for air or post."""
    main_origin: np.ndarray
    price_factor: np.ndarray
    """Importer-specific multiplier on unit prices (its suppliers' pricing)."""
    goods_ptr: np.ndarray
    goods: np.ndarray
    """CSR lists of the goods each importer trades: ``goods[goods_ptr[i]:goods_ptr[i+1]]``."""
    declarant: np.ndarray
    """The importer's usual declarant."""
    network: np.ndarray
    """Collusive network of the importer, -1 for none."""
    declarant_weight: np.ndarray
    """Popularity of each declarant (for occasional other brokers)."""
    network_declarants: np.ndarray
    """The declarant at the centre of each collusive network."""
    watchlisted: np.ndarray
    """On the legacy intelligence watch list (mostly, not only, real fraudsters)."""
    favourite_kind: np.ndarray
    """The fraud kind a systematic fraudster prefers (index into ``fraud.KINDS``)."""

    @property
    def n_importers(self) -> int:
        """Number of importers."""
        return len(self.importer_class)


def build_actors(rng: np.random.Generator, n_importers: int, n_declarants: int, n_networks: int) -> Actors:
    """Draw the world's traders; the same generator state always yields the same actors."""
    n_goods, n_countries = len(GOODS), len(COUNTRIES)
    level = np.array([PRICE_LEVEL[c] for c in COUNTRIES])
    price = GOODS.base_price[:, None] * level[None, :] * rng.lognormal(0.0, 0.15, (n_goods, n_countries))

    klass = rng.choice(3, size=n_importers, p=_CLASS_SHARE)
    mean = np.array([m for m, _ in _CLASS_PROPENSITY])[klass]
    sd = np.array([s for _, s in _CLASS_PROPENSITY])[klass]
    propensity = rng.normal(mean, sd)

    veteran = rng.random(n_importers) < np.where(klass == SYSTEMATIC, 0.4, 0.75)
    first_seen = np.where(veteran, rng.integers(-1500, -60, n_importers), rng.integers(-60, 365, n_importers))
    volume = (rng.pareto(1.1, n_importers) + 1.0) * np.where(klass == SYSTEMATIC, 0.5, 1.0)

    goods_ptr, goods, main_origin, heavy = _draw_goods(rng, n_importers)
    home_office = _draw_home_office(rng, heavy)
    price_factor = rng.lognormal(0.0, 0.08, n_importers)

    declarant_weight = rng.pareto(1.3, n_declarants) + 1.0
    declarant = rng.choice(n_declarants, size=n_importers, p=declarant_weight / declarant_weight.sum())
    network = np.full(n_importers, -1)
    network_declarants = rng.choice(n_declarants, size=n_networks, replace=False)
    fraudsters = np.flatnonzero(klass != HONEST)
    for net, broker in enumerate(network_declarants):
        size = min(int(rng.integers(3, 9)), len(fraudsters))
        members = rng.choice(fraudsters, size=size, replace=False)
        network[members] = net
        declarant[members] = broker
        fraudsters = np.setdiff1d(fraudsters, members)
    return Actors(
        price=price, importer_class=klass, propensity=propensity, first_seen_day=first_seen,
        volume=volume, home_office=home_office, heavy=heavy, main_origin=main_origin,
        price_factor=price_factor, goods_ptr=goods_ptr, goods=goods, declarant=declarant,
        network=network, declarant_weight=declarant_weight, network_declarants=network_declarants,
        watchlisted=rng.random(n_importers) < np.array(_WATCHLIST_RATE)[klass],
        favourite_kind=rng.integers(0, 6, n_importers),
    )


def _draw_goods(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Typical goods (1-2 look-alike groups, 2-6 goods), main origin and weight class per importer."""
    groups = np.unique(GOODS.group)
    weights = origin_weights()
    bulk = (GOODS.unit_kg >= 20.0) | ((GOODS.unit == 1) & (GOODS.base_price < 1.5))
    ptr, chosen, origin, heavy = [0], [], np.empty(n, dtype=np.int64), np.empty(n, dtype=bool)
    n_groups = rng.integers(1, 3, n)
    n_goods = rng.integers(2, 7, n)
    for i in range(n):
        picked = rng.choice(groups, size=n_groups[i], replace=False)
        pool = np.flatnonzero(np.isin(GOODS.group, picked))
        mine = np.sort(rng.choice(pool, size=min(n_goods[i], len(pool)), replace=False))
        chosen.extend(mine.tolist())
        ptr.append(len(chosen))
        origin[i] = rng.choice(len(COUNTRIES), p=weights[GOODS.profile[mine[0]]])
        heavy[i] = bool(bulk[mine].any())
    return np.array(ptr), np.array(chosen), origin, heavy


def _draw_home_office(rng: np.random.Generator, heavy: np.ndarray) -> np.ndarray:
    """Main office of each importer: heavy shippers use sea, road or rail offices."""
    size = np.array([o.size for o in OFFICES])
    freight = np.array([o.mode in ("SEA", "ROAD", "RAIL") for o in OFFICES])
    home = rng.choice(len(OFFICES), size=len(heavy), p=size / size.sum())
    heavy_home = rng.choice(len(OFFICES), size=len(heavy), p=size * freight / (size * freight).sum())
    return np.where(heavy, heavy_home, home)


def office_weights(heavy: bool) -> np.ndarray:
    """Probability of each office for a declaration filed away from the importer's home office."""
    size = np.array([o.size for o in OFFICES])
    if heavy:
        size = size * np.array([o.mode in ("SEA", "ROAD", "RAIL") for o in OFFICES])
    return size / size.sum()
