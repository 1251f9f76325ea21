"""What each event contributes to the history, and how features derive from as-of aggregates.

Both paths share these definitions:

* :func:`norm_observations` — per declaration line, the (feature, norm key, value)
  triples: the value is observed into the rolling norm of the key and compared
  (robust z) with the norm as of the declaration's time.
* :func:`declaration_updates` / :func:`inspection_updates` — counter increments
  ``(key, {field: delta})`` an event adds to the entity history. Every key also
  tracks the time of its first and last update.
* :data:`DECLARATION_READS` / :data:`LINE_READS` — which counters a declaration reads;
  :func:`origin_mix_checks` — the origin counters it reads, which depend on its lines.
* :func:`derive` — the declaration-level features from the as-of aggregates,
  written over a getter so it runs on floats (online) and polars columns (batch).

The online state folds updates incrementally; the batch computes the same
aggregates with polars as-of joins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from zeikan.features import transforms as tf
from zeikan.features.transforms import X
from zeikan.features.lookalikes import LOOKALIKES
from zeikan.features.names import TRANSPORT_MODES
from zeikan.features.tariff import TARIFF

POSITIVE_OUTCOMES = frozenset({"DISCREPANCY", "SEIZURE"})
"""Inspection outcomes that count as a hit (the training label)."""
INSPECTION_HORIZON_MS = 60 * tf.DAY_MS
"""An inspection counts only if it happens within this long after its declaration was filed."""
ASOF_EPOCH_MS = 3_600_000
"""Features are taken as of the start of the event-time epoch (hour) a declaration is filed in.

Every event before that instant counts, none after: a declaration's features then
depend only on epochs that are closed, so the workers that share the partitions
agree on them without ordering every event globally (see ``streams/engine/shared_state.py``).
"""


def asof_cutoff(t: int, epoch_ms: int = ASOF_EPOCH_MS) -> int:
    """The as-of instant of a declaration filed at ``t``: the start of its epoch.

    >>> asof_cutoff(7_300_000), asof_cutoff(7_200_000)
    (7200000, 7200000)
    """
    return t - t % epoch_ms

NORM_FEATURES: dict[str, str] = {
    "uv_z_hs": "min",
    "uv_z_hs_origin": "min",
    "uv_z_hs_office": "min",
    "wpu_z_abs": "maxabs",
    "vpk_z": "min",
    "uv_z_imp_hs": "min",
    "wpu_z_hs_origin": "max",
}
"""Robust-z features over rolling norms, and how their per-line values aggregate (min, max, max of |z|).

:func:`norm_observations` yields each line's triples in this order.
"""


PROBE_FEATURES: tuple[str, ...] = ("lookalike_price_fit", "ad_origin_price_fit")
"""Price checks of a line against the norms of the goods or origin it may hide (:func:`price_probes`).

Per probe: |z against the line's own HS x origin norm| - the smallest |z| against one of
the other norms that exists (:func:`transforms.price_fit`; positive: the price fits the
hidden goods or origin better than the declared one). A probe none of whose other
norms exists yet gives no value; the feature is the largest value over the lines
(0.0 when there is none).
"""


@dataclass(frozen=True)
class Probe:
    """A line's unit value read against its own norm and against others (never observed into them)."""

    feature: str
    own: str
    others: tuple[str, ...]
    x: float


def price_probes(declaration: Mapping) -> list[Probe]:
    """The look-alike and anti-dumped-origin price checks of a declaration's lines.

    * ``lookalike_price_fit``: the line's HS-6 may hide higher-duty goods (the
      substitution list): their prices from the same origin;
    * ``ad_origin_price_fit``: the line's goods pay an anti-dumping duty from other
      origins than the declared one: the price of the goods from those origins.
    """
    origin = declaration["origin_country"]
    probes = []
    for item in declaration["items"]:
        h = tf.hs6(item["hs_code"])
        own = f"uvo|{h}|{origin}"
        luv = tf.log_ratio(money(item["customs_value"]), float(item["quantity"]))
        hidden = LOOKALIKES.may_hide(h)
        if hidden:
            probes.append(Probe("lookalike_price_fit", own, tuple(f"uvo|{c}|{origin}" for c in hidden), luv))
        dumped = dumped_origins(item["hs_code"], origin)
        if dumped:
            probes.append(Probe("ad_origin_price_fit", own, tuple(f"uvo|{h}|{c}" for c in dumped), luv))
    return probes


ORIGIN_MIX_FEATURES: tuple[str, ...] = ("imp_ad_origin_lr", "hs_ad_origin_lr")
"""Where the goods used to come from, for goods that pay an anti-dumping duty from another origin.

Per check (:func:`origin_mix_checks`): :func:`transforms.origin_lr` of the earlier counts
from the anti-dumped origins against the count from the declared origin; the feature is
the largest value over the checks (0.0 when the declaration has none):

* ``imp_ad_origin_lr``: the importer's earlier declarations (``imo|I|C``);
* ``hs_ad_origin_lr``: the earlier lines of the HS-6, every trader's (``hso|H|C``).

Positive: the goods or the trader came from the anti-dumped origin more often than
from the origin declared now (a laundered origin is rare where it is claimed).
"""


@dataclass(frozen=True)
class OriginMix:
    """Counters of one origin check: the declared origin's and the anti-dumped origins' (read, never written)."""

    feature: str
    own: str
    others: tuple[str, ...]


def dumped_origins(hs_code: str, origin: str) -> tuple[str, ...]:
    """The origins other than ``origin`` whose goods of this HS code pay an anti-dumping duty (the tariff)."""
    return tuple(c for c in TARIFF.dumped_origins(hs_code) if c != origin)


def origin_mix_checks(declaration: Mapping) -> list[OriginMix]:
    """The checks of :data:`ORIGIN_MIX_FEATURES`: one per line with anti-dumped origins, one for the importer over them all."""
    origin, imp = declaration["origin_country"], declaration["importer_id"]
    checks, dumped = [], set()
    for item in declaration["items"]:
        others = dumped_origins(item["hs_code"], origin)
        if others:
            h = tf.hs6(item["hs_code"])
            dumped.update(others)
            checks.append(OriginMix("hs_ad_origin_lr", f"hso|{h}|{origin}", tuple(f"hso|{h}|{c}" for c in others)))
    if dumped:
        checks.append(OriginMix("imp_ad_origin_lr", f"imo|{imp}|{origin}", tuple(f"imo|{imp}|{c}" for c in sorted(dumped))))
    return checks


@dataclass(frozen=True)
class Read:
    """A counter a declaration reads: ``alias`` prefixes the aggregate names (``alias_field``)."""

    alias: str
    key: Callable[[Mapping], str]
    fields: tuple[str, ...]


DECLARATION_READS: tuple[Read, ...] = (
    Read("imp", lambda d: f"imp|{d['importer_id']}", ("n", "first", "last")),
    Read("impx", lambda d: f"impx|{d['importer_id']}", ("insp", "disc", "seiz")),
    Read("dcl", lambda d: f"dcl|{d['declarant_id']}", ("n", "first")),
    Read("dclx", lambda d: f"dclx|{d['declarant_id']}", ("insp", "disc", "seiz")),
    Read("peer", lambda d: f"peer|{d['declarant_id']}", ("n",)),
    Read("di", lambda d: f"di|{d['declarant_id']}|{d['importer_id']}", ("n",)),
    Read("org", lambda d: f"org|{d['origin_country']}", ("insp", "disc")),
    Read("dsp", lambda d: f"dsp|{d['dispatch_country']}", ("n", "trans")),
    Read("g", lambda d: "g", ("insp", "disc")),
)
"""Declaration-level counters; missing fields read as 0 (``first``/``last``: the declaration's time)."""

LINE_READS: tuple[Read, ...] = (
    Read("ih", lambda li: f"ih|{li['importer_id']}|{li['hs6']}", ("n",)),
    Read("dh", lambda li: f"dh|{li['desc']}|{li['hs6']}", ("n",)),
    Read("d", lambda li: f"d|{li['desc']}", ("n",)),
)
"""Per-line counters (keys over :func:`line_context` dicts)."""

TIME_FIELDS = frozenset({"first", "last"})
"""Fields holding times rather than counts."""


def money(value: Any) -> float:
    """A money field (Decimal in memory, number in JSON) as a float."""
    return float(value) if isinstance(value, Decimal) else float(value or 0.0)


def line_context(declaration: Mapping, item: Mapping) -> dict[str, str]:
    """The strings the per-line keys are built from."""
    return {
        "importer_id": declaration["importer_id"],
        "hs6": tf.hs6(item["hs_code"]),
        "desc": tf.norm_description(item.get("description", "")),
    }


def norm_observations(declaration: Mapping) -> list[list[tuple[str, str, float]]]:
    """Per line: (feature, norm key, observed value) for every rolling norm."""
    origin, office = declaration["origin_country"], declaration["office_id"]
    lines = []
    for item in declaration["items"]:
        h = tf.hs6(item["hs_code"])
        value, qty, kg = money(item["customs_value"]), float(item["quantity"]), float(item["gross_weight_kg"])
        luv = tf.log_ratio(value, qty)
        lines.append([
            ("uv_z_hs", f"uv|{h}", luv),
            ("uv_z_hs_origin", f"uvo|{h}|{origin}", luv),
            ("uv_z_hs_office", f"uvf|{h}|{office}", luv),
            ("wpu_z_abs", f"wpu|{h}|{item['quantity_unit']}", tf.log_ratio(kg, qty)),
            ("vpk_z", f"vpk|{h}", tf.log_ratio(value, kg)),
            ("uv_z_imp_hs", f"uvi|{declaration['importer_id']}|{h}", luv),
            ("wpu_z_hs_origin", f"wpo|{h}|{item['quantity_unit']}|{origin}", tf.log_ratio(kg, qty)),
        ])
    return lines


def entity_updates(declaration: Mapping) -> list[tuple[str, dict[str, float]]]:
    """Counter increments a filed declaration adds to its importer, declarant, pair and dispatch country,
    the importer x origin (``imo|I|C``) and, per line, the HS-6 x origin (``hso|H|C``)."""
    imp, dcl, origin = declaration["importer_id"], declaration["declarant_id"], declaration["origin_country"]
    trans = float(origin != declaration["dispatch_country"])
    return [
        (f"imp|{imp}", {"n": 1.0}),
        (f"dcl|{dcl}", {"n": 1.0}),
        (f"di|{dcl}|{imp}", {"n": 1.0}),
        (f"dsp|{declaration['dispatch_country']}", {"n": 1.0, "trans": trans}),
        (f"imo|{imp}|{origin}", {"n": 1.0}),
        *((f"hso|{tf.hs6(item['hs_code'])}|{origin}", {"n": 1.0}) for item in declaration["items"]),
    ]


def declaration_updates(declaration: Mapping) -> list[tuple[str, dict[str, float]]]:
    """Counter increments a filed declaration adds to the history (not the network links).

    :func:`entity_updates`, then ``n += 1`` for every per-line key (:func:`line_keys`).
    """
    updates = entity_updates(declaration)
    for line in line_keys(declaration):
        updates.extend((key, {"n": 1.0}) for key in line)
    return updates


def line_keys(declaration: Mapping) -> list[tuple[str, ...]]:
    """Per item: the keys of :data:`LINE_READS`, in that order."""
    ih, dh, d = (read.key for read in LINE_READS)
    out = []
    for item in declaration["items"]:
        ctx = line_context(declaration, item)
        out.append((ih(ctx), dh(ctx), d(ctx)))
    return out


DECLARATION_INFO = ("importer_id", "declarant_id", "origin_country", "filed_at")
"""What an inspection result needs to know about its declaration (:func:`declaration_info`)."""


def declaration_info(declaration: Mapping) -> dict[str, Any]:
    """What an inspection result needs to know about its declaration (``filed_at`` as an int)."""
    info = {field: declaration[field] for field in DECLARATION_INFO}
    info["filed_at"] = int(info["filed_at"])
    return info


def inspection_counts(result: Mapping, info: Mapping) -> bool:
    """Whether an inspection result enters the history (its declaration known, within the horizon)."""
    lag = int(result["inspected_at"]) - int(info["filed_at"])
    return 0 <= lag <= INSPECTION_HORIZON_MS


def inspection_updates(result: Mapping, info: Mapping) -> list[tuple[str, dict[str, float]]]:
    """Counter increments of an inspection result, attributed to its declaration's entities."""
    hit = float(result["outcome"] in POSITIVE_OUTCOMES)
    seiz = float(result["outcome"] == "SEIZURE")
    outcome = {"insp": 1.0, "disc": hit, "seiz": seiz}
    return [
        (f"impx|{info['importer_id']}", outcome),
        (f"dclx|{info['declarant_id']}", outcome),
        (f"org|{info['origin_country']}", {"insp": 1.0, "disc": hit}),
        ("g", {"insp": 1.0, "disc": hit}),
    ]


def own_values(declaration: Mapping) -> dict[str, float]:
    """Aggregates from the declaration itself (no history)."""
    items = declaration["items"]
    origin = declaration["origin_country"]
    round_v = round_w = total = stake = duty = saving = gap = digits = 0.0
    for item in items:
        value = money(item["customs_value"])
        total += value
        round_v += tf.is_multiple(value, tf.ROUND_VALUE)
        digits = max(digits, tf.round_digits(value))
        round_w += tf.is_multiple(float(item["gross_weight_kg"]), tf.ROUND_WEIGHT)
        hs, rate = item["hs_code"], TARIFF.rate(item["hs_code"], origin)
        stake += value * rate
        duty = max(duty, rate)
        saving = max(saving, TARIFF.worst_rate(hs) - rate)
        gap = max(gap, TARIFF.heading_max(hs) - rate)
    n = float(len(items)) or 1.0
    return {
        "t": float(declaration["filed_at"]),
        "arrival": float(declaration["expected_arrival"]),
        "ne": float(declaration["origin_country"] != declaration["dispatch_country"]),
        "round_v": round_v / n,
        "round_w": round_w / n,
        "total_value": total,
        "n_items": float(len(items)),
        "mode": float(TRANSPORT_MODES.index(declaration["transport_mode"])),
        "duty": duty,
        "stake": stake,
        "saving": saving,
        "gap": gap,
        "digits": digits,
    }


def line_desc_share(desc_hs_n: X, desc_n: X) -> X:
    """Per line: smoothed share of earlier lines with this description that used this HS-6.

    ``desc_hs_n``, ``desc_n``: the line's ``dh`` and ``d`` counts (:data:`LINE_READS`).
    """
    return tf.smoothed_rate(desc_hs_n, desc_n, 1.0, 1.0)


def derive(get: Callable[[str], Any]) -> dict[str, Any]:
    """Declaration-level features (minus the line aggregates) from named as-of aggregates."""
    t = get("t")
    prior = tf.global_rate(get("g_disc"), get("g_insp"))
    return {
        "imp_log_n": tf.log_count(get("imp_n")),
        "imp_age_days": tf.days_between(t, get("imp_first")),
        "imp_recency_days": tf.days_between(t, get("imp_last")),
        "imp_insp_n": get("impx_insp"),
        "imp_disc_rate": tf.smoothed_rate(get("impx_disc"), get("impx_insp"), prior),
        "imp_seiz_rate": tf.smoothed_rate(get("impx_seiz"), get("impx_insp"), prior * 0.2),
        "dcl_log_n": tf.log_count(get("dcl_n")),
        "dcl_age_days": tf.days_between(t, get("dcl_first")),
        "dcl_disc_rate": tf.smoothed_rate(get("dclx_disc"), get("dclx_insp"), prior),
        "dcl_seiz_rate": tf.smoothed_rate(get("dclx_seiz"), get("dclx_insp"), prior * 0.2),
        "dcl_peer_seizures": get("peer_n"),
        "new_declarant_importer": 1.0 - tf.positive(get("di_n")),
        "origin_ne_dispatch": get("ne"),
        "dispatch_hub_share": tf.smoothed_rate(get("dsp_trans"), get("dsp_n"), tf.HUB_PRIOR),
        "origin_disc_rate": tf.smoothed_rate(get("org_disc"), get("org_insp"), prior),
        "round_value_share": get("round_v"),
        "round_weight_share": get("round_w"),
        "lead_time_hours": tf.lead_time_hours(get("arrival"), t),
        "log_total_value": tf.log_count(get("total_value")),
        "n_items": get("n_items"),
        "transport_mode": get("mode"),
        "duty_rate": get("duty"),
        "log_duty_at_stake": tf.log_count(get("stake")),
        "origin_duty_saving": get("saving"),
        "heading_duty_gap": get("gap"),
        "pref_origin_via_other": get("saving") * get("ne"),
        "value_round_digits": get("digits"),
    }
