"""One simulated day, vectorised: who files what, where, how it travels, what is inspected and scanned.

:func:`generate_day` is pure given (world, day): every day draws from its own
generator seeded by ``(seed, day)``, so days are independent (parallelisable) and
a shorter run is a prefix of a longer one. The result is columnar (:class:`Day`);
:mod:`zeikan.sim.writer` turns it into event records.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from zeikan.sim.actors import Actors, build_actors, office_weights
from zeikan.sim.catalog import (
    AIRLINES, COUNTRIES, GOODS, HUBS, LEAD_HOURS, LOT_FACTOR, OFFICES, SCANNER_ENERGY, TRANSPORT_MODES, UNITS,
    VESSELS, effective_duty, origin_weights,
)
from zeikan.sim.containers import Assignment, assign_containers, container_ids
from zeikan.sim.fraud import Fraud, FraudContext, Lines, draw_fraud, fraud_intercept, fraud_logit, richest_line
from zeikan.sim.observed_posterior import Shown, observed_posterior
from zeikan.sim.policy import DOCUMENT, PHYSICAL, SCAN, Findings, Selection, inspect, legacy_score, select
from zeikan.sim.posterior import fraud_posterior
from zeikan.sim.settings import FRAUD_KINDS, SimSettings

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
NII_SHARE = 0.02
"""Share of containers scanned at random (non-intrusive inspection without a selection)."""
VISIBLE_LINK_SHARE = 0.7
"""Share of scans whose record names the declarations (the others must be joined by container)."""

SEA, AIR, ROAD, RAIL, POST = range(len(TRANSPORT_MODES))
_OFFICE_MODE = np.array([TRANSPORT_MODES.index(o.mode) for o in OFFICES])
_LEAD = np.array([LEAD_HOURS[m] for m in TRANSPORT_MODES])
_LOT = np.array([LOT_FACTOR[m] for m in TRANSPORT_MODES])
_CAP_KG = np.array([20_000.0, 2_500.0, 22_000.0, 20_000.0, 30.0])
"""Typical maximum gross weight of one consignment (per container for SEA/RAIL), by mode."""
_FCL_COUNT, _FCL_SHARE = np.arange(1, 7), np.array([0.75, 0.13, 0.05, 0.03, 0.02, 0.02])
_COUNTED = np.array([u in ("PCE", "PR", "SET", "NAR") for u in UNITS])
_HUBS = np.array([COUNTRIES.index(c) for c in HUBS])
_ORIGIN_CUM = np.cumsum(origin_weights(), axis=1)


DRIFT_SHARE = 0.5
"""Share of importers whose hidden fraud propensity is exchanged with another's at the drift day."""


@dataclass(frozen=True)
class World:
    """The run's settings and its traders (shared by every day); ``drifted``: the traders after the drift day."""

    settings: SimSettings
    actors: Actors
    drifted: Actors | None = None

    def actors_on(self, day: int) -> Actors:
        """The traders as they behave on ``day``."""
        drift = self.settings.drift_day
        return self.drifted if self.drifted is not None and drift is not None and day >= drift else self.actors

    def kind_weight(self, day: int) -> np.ndarray:
        """Relative frequency of each fraud kind on ``day`` (switched-off kinds 0; reversed after the drift)."""
        s = self.settings
        weight = np.array(s.kind_weights) * np.array([k in s.mechanisms for k in FRAUD_KINDS])
        return weight[::-1].copy() if s.drift_day is not None and day >= s.drift_day else weight


def build_world(settings: SimSettings) -> World:
    """Draw the world's traders from the run's seed (and, with a drift day, who turns fraudulent then)."""
    rng = np.random.default_rng(np.random.SeedSequence([settings.seed, 0]))
    actors = build_actors(rng, settings.n_importers, settings.n_declarants, settings.n_networks)
    drifted = None
    if settings.drift_day is not None:
        drift_rng = np.random.default_rng(np.random.SeedSequence([settings.seed, 2]))
        moved = np.flatnonzero(drift_rng.random(actors.n_importers) < DRIFT_SHARE)
        swap = np.arange(actors.n_importers)
        swap[moved] = drift_rng.permutation(moved)
        drifted = replace(actors, propensity=actors.propensity[swap], importer_class=actors.importer_class[swap],
                          favourite_kind=drift_rng.integers(0, len(FRAUD_KINDS), actors.n_importers))
    return World(settings=settings, actors=actors, drifted=drifted)


@dataclass(frozen=True)
class Scans:
    """The scans of one day's containers (index = scan number, ordered by scan time)."""

    container: np.ndarray
    scanned_at: np.ndarray
    scanner: list[str]
    model: list[str]
    energy: list[str]
    names_declarations: np.ndarray
    """Whether the scan record lists its declarations (else the stream join must find them)."""


@dataclass(frozen=True)
class Day:
    """Everything that happened to the declarations filed on one day, columnar."""

    index: int
    filed_at: np.ndarray
    office: np.ndarray
    importer: np.ndarray
    declarant: np.ndarray
    origin: np.ndarray
    """Declared origin (the true one differs under origin fraud)."""
    true_origin: np.ndarray
    dispatch: np.ndarray
    mode: np.ndarray
    conveyance: list[str]
    expected_arrival: np.ndarray
    item_ptr: np.ndarray
    truth: Lines
    declared: Lines
    fraud: Fraud
    containers: Assignment
    container_id: list[str]
    selection: Selection
    findings: Findings
    inspected_at: np.ndarray
    officer: np.ndarray
    scans: Scans
    posterior: np.ndarray
    """The generator's P(fraud | declaration), prior from the true facts (:mod:`zeikan.sim.posterior`)."""
    observed_posterior: np.ndarray
    """P(fraud | what the declaration shows), hidden facts summed out (:mod:`zeikan.sim.observed_posterior`)."""

    def __len__(self) -> int:
        return len(self.filed_at)

    def members(self, containers: np.ndarray) -> dict[int, list[int]]:
        """Declarations (ascending) travelling in each of the given containers."""
        owner = np.repeat(np.arange(len(self)), np.diff(self.containers.ptr))
        wanted = np.isin(self.containers.slots, containers)
        found: dict[int, list[int]] = {int(c): [] for c in containers}
        for c, d in zip(self.containers.slots[wanted].tolist(), owner[wanted].tolist()):
            found[c].append(d)
        return found


def generate_day(world: World, day: int) -> Day:
    """Generate day ``day`` (0 = the start date) of the world."""
    s, a = world.settings, world.actors_on(day)
    rng = np.random.default_rng(np.random.SeedSequence([s.seed, 1, day]))
    n, t0 = s.per_day, s.day_start_ms(day)

    active = (a.first_seen_day <= day) * a.volume
    importer = _sample(rng, np.cumsum(active), n)
    office = _draw_office(rng, a, importer)
    mode = _OFFICE_MODE[office]
    hours = np.where(rng.random(n) < 0.75, rng.normal(13.0, 3.0, n), rng.uniform(0.0, 24.0, n))
    filed_at = t0 + np.sort((np.clip(hours, 0.0, 23.999) * HOUR_MS).astype(np.int64))
    declarant = np.where(
        rng.random(n) < 0.12, _sample(rng, np.cumsum(a.declarant_weight), n), a.declarant[importer]
    )

    n_items = np.where(mode == POST, 1 + (rng.random(n) < 0.3), np.minimum(rng.geometric(0.5, n), 8))
    item_ptr = np.concatenate(([0], np.cumsum(n_items)))
    decl_of = np.repeat(np.arange(n), n_items)
    goods = _draw_goods(rng, a, importer[decl_of])
    profile = GOODS.profile[goods[item_ptr[:-1]]]
    alt_origin = (_ORIGIN_CUM[profile] <= rng.random(n)[:, None]).sum(axis=1)
    origin = np.where(rng.random(n) < 0.75, a.main_origin[importer], np.minimum(alt_origin, len(COUNTRIES) - 1))
    hub = _HUBS[rng.integers(0, len(_HUBS), n)]
    dispatch = np.where((rng.random(n) < 0.15) & (hub != origin), hub, origin)
    truth = _true_lines(rng, a, decl_of, goods, importer, origin, mode)

    has_container = (mode == SEA) | (mode == RAIL) | ((mode == ROAD) & (rng.random(n) < 0.7))
    age_days = day - a.first_seen_day[importer]
    ctx = FraudContext(importer=importer, origin=origin, dispatch=dispatch, new_importer=age_days <= 90,
                       has_container=has_container, item_ptr=item_ptr)
    fraud, declared, decl_origin, decl_dispatch = draw_fraud(rng, a, ctx, truth, s.fraud_rate, world.kind_weight(day))

    lead = rng.uniform(_LEAD[mode, 0], _LEAD[mode, 1])
    lead = np.where(fraud.is_fraud & (rng.random(n) < 0.5), np.maximum(lead * rng.uniform(0.15, 0.5, n), 1.0), lead)
    arrival = filed_at + (lead * HOUR_MS).astype(np.int64)
    slot = rng.integers(0, 2, n)
    arrival_day = arrival // DAY_MS
    vessel_key = (office * 100_000 + arrival_day) * 2 + slot
    arrival = np.where(mode == SEA, _group_max(vessel_key, arrival), arrival)
    line = richest_line(truth.decl, truth.value * effective_duty(truth.goods, origin[decl_of]), n)
    posterior = fraud_posterior(a, importer, declared, line, decl_origin, decl_dispatch, mode,
                                (arrival - filed_at) / HOUR_MS, has_container, fraud.probability, world.kind_weight(day))
    shown = Shown(importer=importer, lines=declared, item_ptr=item_ptr, origin=decl_origin, dispatch=decl_dispatch,
                  mode=mode, lead_h=(arrival - filed_at) / HOUR_MS, has_container=has_container,
                  new_importer=ctx.new_importer)
    intercept = fraud_intercept(fraud_logit(a, ctx, truth), s.fraud_rate)
    observed = observed_posterior(a, shown, intercept, world.kind_weight(day))

    weight = np.bincount(decl_of, truth.weight_kg, n) + fraud.hidden_kg
    lcl = (mode == SEA) & (rng.random(n) < 0.35) & (weight < 9_000.0)
    containers = assign_containers(rng, has_container, lcl, vessel_key, weight)
    cids = container_ids(rng, len(containers.length_ft), day)
    conveyance = _conveyance(rng, office, mode, decl_dispatch, arrival, slot)

    duty = effective_duty(declared.goods, decl_origin[decl_of])
    max_duty = np.maximum.reduceat(duty, item_ptr[:-1])
    score = legacy_score(rng, a.watchlisted[importer], age_days, max_duty, decl_origin, decl_dispatch, mode == ROAD)
    selection = select(rng, office, score, has_container)
    findings = inspect(rng, selection, fraud.kinds, fraud.revenue_by_kind)
    scans, scan_done = _scans(rng, containers, selection, office, arrival)
    inspected_at = _inspection_times(rng, selection.inspection_type, arrival, scan_done)
    return Day(
        index=day, filed_at=filed_at, office=office, importer=importer, declarant=declarant, origin=decl_origin,
        true_origin=origin, dispatch=decl_dispatch, mode=mode, conveyance=conveyance, expected_arrival=arrival,
        item_ptr=item_ptr, truth=truth, declared=declared, fraud=fraud, containers=containers,
        container_id=cids, selection=selection, findings=findings, inspected_at=inspected_at,
        officer=rng.integers(0, 12, n), scans=scans, posterior=posterior,
        observed_posterior=observed,
    )


def _sample(rng: np.random.Generator, cum_weights: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with probability proportional to the weights whose cumsum is given."""
    idx = np.searchsorted(cum_weights, rng.random(n) * cum_weights[-1], side="right")
    return np.minimum(idx, len(cum_weights) - 1)


def _draw_office(rng: np.random.Generator, a: Actors, importer: np.ndarray) -> np.ndarray:
    """The importer's home office 80 % of the time, else any office fit for its goods."""
    n = len(importer)
    heavy = a.heavy[importer]
    other = np.where(
        heavy, _sample(rng, np.cumsum(office_weights(True)), n), _sample(rng, np.cumsum(office_weights(False)), n)
    )
    return np.where(rng.random(n) < 0.8, a.home_office[importer], other)


def _draw_goods(rng: np.random.Generator, a: Actors, importer: np.ndarray) -> np.ndarray:
    """One of the importer's typical goods per line."""
    start = a.goods_ptr[importer]
    count = a.goods_ptr[importer + 1] - start
    return a.goods[start + (rng.random(len(importer)) * count).astype(np.int64)]


def _true_lines(
    rng: np.random.Generator, a: Actors, decl_of: np.ndarray, goods: np.ndarray, importer: np.ndarray,
    origin: np.ndarray, mode: np.ndarray,
) -> Lines:
    """True quantity, weight and value of each line (prices follow the HS code x origin norm).

    Consignments are capped by weight (one to six containers by sea or rail, a truck, a parcel).
    """
    m = len(goods)
    unit_price = a.price[goods, origin[decl_of]] * a.price_factor[importer[decl_of]] * rng.lognormal(0.0, 0.2, m)
    lot = 60_000.0 * _LOT[mode[decl_of]] * rng.lognormal(0.0, 0.9, m)
    raw = lot / unit_price
    n = len(mode)
    containers = np.where((mode == SEA) | (mode == RAIL), rng.choice(_FCL_COUNT, n, p=_FCL_SHARE), 1)
    cap_kg = _CAP_KG[mode] * containers * rng.uniform(0.6, 1.15, n)
    load_kg = np.bincount(decl_of, raw * GOODS.unit_kg[goods], n)
    raw = raw * np.minimum(1.0, cap_kg / load_kg)[decl_of]
    qty = np.where(_COUNTED[GOODS.unit[goods]], np.maximum(np.round(raw), 1.0), np.maximum(np.round(raw, 1), 0.1))
    packing = rng.lognormal(0.0, 0.05, m) * rng.uniform(1.02, 1.12, m)
    weight = np.maximum(np.round(qty * GOODS.unit_kg[goods] * packing, 1), 0.1)
    value = qty * unit_price
    value = np.maximum(np.where(rng.random(m) < 0.1, np.round(value), np.round(value, 2)), 0.01)
    return Lines(decl=decl_of, goods=goods, quantity=qty, weight_kg=weight, value=value)


def _group_max(key: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each element, the maximum of ``values`` over elements with the same key."""
    uniq, inverse = np.unique(key, return_inverse=True)
    best = np.full(len(uniq), np.iinfo(np.int64).min)
    np.maximum.at(best, inverse, values)
    return best[inverse]


def _conveyance(
    rng: np.random.Generator, office: np.ndarray, mode: np.ndarray, dispatch: np.ndarray, arrival: np.ndarray,
    slot: np.ndarray,
) -> list[str]:
    """Conveyance reference: vessel + voyage, flight number, truck plate, train or mail dispatch."""
    day = (arrival // DAY_MS).tolist()
    hour = (arrival // HOUR_MS).tolist()
    plate = rng.integers(10_000, 100_000, len(office)).tolist()
    refs = []
    for o, m, d, dd, hh, sl, pl in zip(office.tolist(), mode.tolist(), dispatch.tolist(), day, hour, slot.tolist(), plate):
        if m == SEA:
            refs.append(f"{VESSELS[(o * 7 + dd * 3 + sl) % len(VESSELS)]} {dd % 1000:03d}{'EW'[sl]}")
        elif m == AIR:
            h = o * 7919 + hh
            refs.append(f"{AIRLINES[h % len(AIRLINES)]}{100 + h % 9000:04d}")
        elif m == ROAD:
            refs.append(f"{COUNTRIES[d]}-{pl}")
        elif m == RAIL:
            refs.append(f"TRAIN {OFFICES[o].office_id[2:]}{dd % 1000:03d}")
        else:
            refs.append(f"MAIL {COUNTRIES[d]}{dd % 10000:04d}")
    return refs


def _scans(
    rng: np.random.Generator, containers: Assignment, selection: Selection, office: np.ndarray, arrival: np.ndarray
) -> tuple[Scans, np.ndarray]:
    """Scan the containers of SCAN/PHYSICAL selections plus a random NII share.

    Returns the scans and, per declaration, the time its last container was scanned (0 if none).
    """
    n_containers = len(containers.length_ft)
    owner = np.repeat(np.arange(len(office)), np.diff(containers.ptr))
    selected = np.isin(selection.inspection_type, (SCAN, PHYSICAL))
    scanned = np.zeros(n_containers, dtype=bool)
    scanned[containers.slots[selected[owner]]] = True
    scanned |= rng.random(n_containers) < NII_SHARE
    container_arrival = np.zeros(n_containers, dtype=np.int64)
    np.maximum.at(container_arrival, containers.slots, arrival[owner])
    container_office = np.zeros(n_containers, dtype=np.int64)
    container_office[containers.slots] = office[owner]
    scan_time = container_arrival + (rng.uniform(1.0, 30.0, n_containers) * HOUR_MS).astype(np.int64)
    pick = rng.random(n_containers)

    idx = np.flatnonzero(scanned)
    idx = idx[np.lexsort((idx, scan_time[idx]))]
    scanner, model, energy = [], [], []
    for c in idx.tolist():
        o = OFFICES[container_office[c]]
        k = int(pick[c] * len(o.scanners))
        scanner.append(f"{o.office_id}-{o.scanners[k]}-{k + 1}")
        model.append(o.scanners[k])
        energy.append(SCANNER_ENERGY[o.scanners[k]])
    scans = Scans(container=idx, scanned_at=scan_time[idx], scanner=scanner, model=model, energy=energy,
                  names_declarations=rng.random(len(idx)) < VISIBLE_LINK_SHARE)
    done = np.zeros(len(office), dtype=np.int64)
    slot_time = np.where(scanned[containers.slots], scan_time[containers.slots], 0)
    np.maximum.at(done, owner, slot_time)
    return scans, done


def _inspection_times(
    rng: np.random.Generator, kind: np.ndarray, arrival: np.ndarray, scan_done: np.ndarray
) -> np.ndarray:
    """Results come hours to days after arrival (after the scan where there is one)."""
    n = len(kind)
    after = np.maximum(arrival, scan_done)
    delay_h = np.select(
        [kind == DOCUMENT, kind == SCAN, kind == PHYSICAL],
        [rng.uniform(2.0, 48.0, n), rng.uniform(0.5, 12.0, n), rng.uniform(12.0, 96.0, n)],
        0.0,
    )
    return np.where(kind >= 0, after + (delay_h * HOUR_MS).astype(np.int64), 0)
