"""Incremental, idempotent, point-in-time feature state for the stream and ``zeikan replay``.

State lives in a plain ``MutableMapping[str, dict]`` (a dict, or a Faust table:
every changed record is written back with ``store[key] = record``). Records:

* counters ``imp|I``, ``impx|I``, ``dcl|D``, ``dclx|D``, ``peer|D``, ``di|D|I``,
  ``org|C``, ``dsp|C``, ``ih|I|H``, ``dh|DESC|H``, ``d|DESC``, ``g`` — sums of
  numbers plus ``first``/``last`` update times (see ``definitions.py``);
* rolling norms ``uv|H``, ``uvo|H|C``, ``uvf|H|O``, ``wpu|H|U``, ``vpk|H`` —
  ``{"v": [last WINDOW values, oldest first], "s": [the same, sorted], "n": count}``;
* ``idl|I`` — the declarants an importer used (``{declarant: 1.0}``, network links);
* ``decl|ID`` — importer/declarant/origin/filed_at of recent declarations, so an
  inspection result can be attributed; ``seen|DAY`` / ``dix|DAY`` — event ids and
  declaration ids by day, for idempotency and expiry; ``clock`` — day bookkeeping.

Memory is bounded: norms keep the last ``WINDOW`` values per key (a rolling window
by count, so the median and quartiles are exact over it; the window is kept
sorted too, so a robust z costs O(1) to read and O(WINDOW) memmove to update); counters are O(entities); event ids
and the declaration index are kept for ``retention_ms`` only (events older than the
newest seen minus the retention are dropped as stale and counted in
``stale_events``; an inspection more than ``INSPECTION_HORIZON_MS`` after its
filing does not count, on both paths).

Point-in-time: an observed event is folded into the aggregates only once a
declaration later than it is scored (events at or after the newest scored time wait
in a small in-memory heap), so ``features(d)`` sees exactly the events with time <
``d.filed_at`` when events arrive in time order. Ties fold declarations before
inspections, then by event id — the batch path sorts the same way.
"""

from __future__ import annotations

import heapq
from bisect import insort
from collections.abc import Mapping, MutableMapping
from typing import Any

from zeikan.features import definitions as fd
from zeikan.features import transforms as tf
from zeikan.features.names import FEATURE_NAMES

DECLARATION, INSPECTION = 0, 1
"""Event kinds, in tie-breaking order."""


_LOW_Q, _HIGH_Q = tf.QUARTILES


def norm_z(record: Mapping | None, x: float) -> float:
    """Robust z of x against a rolling norm record (0 when the norm is empty).

    The record keeps its window sorted (``s``), so median and quartiles are O(1).
    """
    if not record:
        return 0.0
    s = record["s"]
    n = len(s)
    mid = n // 2
    med = s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2.0
    iqr = s[int((n - 1) * _HIGH_Q)] - s[int((n - 1) * _LOW_Q)]
    return tf.robust_z(x, med, iqr, float(n))


class OnlineFeatureState:
    """The FeatureState the stream keeps (see the module docstring for the state layout)."""

    def __init__(
        self,
        store: MutableMapping[str, Any] | None = None,
        *,
        window: int = tf.WINDOW,
        retention_ms: int = fd.INSPECTION_HORIZON_MS + tf.DAY_MS,
    ) -> None:
        self.store: MutableMapping[str, Any] = store if store is not None else {}
        self.window = window
        self.retention_days = retention_ms // tf.DAY_MS
        self.stale_events = 0
        self.unmatched_inspections = 0
        self._pending: list[tuple[int, int, str, Mapping]] = []
        self._watermark = -(2**63)

    # -- FeatureState -------------------------------------------------------------------------

    def observe_declaration(self, declaration: Mapping) -> None:
        """Fold a filed declaration into the history (idempotent by declaration_id)."""
        self._observe(int(declaration["filed_at"]), DECLARATION, declaration["declaration_id"], declaration)

    def observe_inspection(self, result: Mapping) -> None:
        """Fold an inspection result into the history (idempotent by inspection_id)."""
        self._observe(int(result["inspected_at"]), INSPECTION, result["inspection_id"], result)

    def features(self, declaration: Mapping) -> dict[str, float]:
        """Features of one declaration as of its ``filed_at`` (only earlier events count)."""
        t = int(declaration["filed_at"])
        if t > self._watermark:
            self._watermark = t
            self._fold_pending()
        get = self.store.get
        agg = fd.own_values(declaration)
        for read in fd.DECLARATION_READS:
            rec = get(read.key(declaration))
            for f in read.fields:
                default = agg["t"] if f in fd.TIME_FIELDS else 0.0
                agg[f"{read.alias}_{f}"] = rec.get(f, default) if rec else default
        out = fd.derive(agg.__getitem__)
        out.update(self._line_features(declaration))
        return {name: float(out[name]) for name in FEATURE_NAMES}

    # -- features of lines ----------------------------------------------------------------------

    def _line_features(self, declaration: Mapping) -> dict[str, float]:
        get = self.store.get
        per_feature: dict[str, list[float]] = {name: [] for name in fd.NORM_FEATURES}
        hist_n: list[float] = []
        for line in fd.norm_observations(declaration):
            for feature, key, x in line:
                rec = get(key)
                per_feature[feature].append(norm_z(rec, x))
                if feature == "uv_z_hs":
                    hist_n.append(float(rec["n"]) if rec else 0.0)
        new_pairs: list[float] = []
        desc_shares: list[float] = []
        for item in declaration["items"]:
            ctx = fd.line_context(declaration, item)
            agg = {}
            for read in fd.LINE_READS:
                rec = get(read.key(ctx))
                agg[f"{read.alias}_n"] = rec["n"] if rec else 0.0
            new_pairs.append(1.0 - tf.positive(agg["ih_n"]))
            desc_shares.append(fd.line_desc_share(agg.__getitem__))
        out = {name: _aggregate(how, per_feature[name]) for name, how in fd.NORM_FEATURES.items()}
        out["uv_hist_n"] = min(hist_n, default=0.0)
        out["new_importer_hs"] = sum(new_pairs) / len(new_pairs) if new_pairs else 0.0
        out["desc_hs_share"] = min(desc_shares, default=1.0)
        return out

    # -- folding ---------------------------------------------------------------------------------

    def _observe(self, t: int, kind: int, event_id: str, event: Mapping) -> None:
        if not self._first_sighting(event_id, t):
            return
        if t < self._watermark:
            self._fold(t, kind, event)
        else:
            heapq.heappush(self._pending, (t, kind, event_id, event))

    def _fold_pending(self) -> None:
        pending = self._pending
        while pending and pending[0][0] < self._watermark:
            t, kind, _, event = heapq.heappop(pending)
            self._fold(t, kind, event)

    def _fold(self, t: int, kind: int, event: Mapping) -> None:
        if kind == DECLARATION:
            self._fold_declaration(t, event)
        else:
            self._fold_inspection(t, event)

    def _fold_declaration(self, t: int, declaration: Mapping) -> None:
        store = self.store
        for key, deltas in fd.declaration_updates(declaration):
            self._add(key, deltas, t)
        imp, dcl = declaration["importer_id"], declaration["declarant_id"]
        links = store.get(f"idl|{imp}") or {}
        if dcl not in links:
            links[dcl] = 1.0
            store[f"idl|{imp}"] = links
            seized = (store.get(f"impx|{imp}") or {}).get("seiz", 0.0)
            self._add(f"peer|{dcl}", {"n": seized}, t)
        for line in fd.norm_observations(declaration):
            for _, key, x in line:
                rec = store.get(key) or {"v": [], "s": [], "n": 0.0}
                values, ordered = rec["v"], rec["s"]
                values.append(x)
                insort(ordered, x)
                if len(values) > self.window:
                    ordered.remove(values.pop(0))
                rec["n"] += 1.0
                store[key] = rec
        decl_id = declaration["declaration_id"]
        store[f"decl|{decl_id}"] = fd.declaration_info(declaration)
        self._bucket_add("dix", t, decl_id)

    def _fold_inspection(self, t: int, result: Mapping) -> None:
        info = self.store.get(f"decl|{result['declaration_id']}")
        if info is None or not fd.inspection_counts(result, info):
            self.unmatched_inspections += 1
            return
        for key, deltas in fd.inspection_updates(result, info):
            self._add(key, deltas, t)
        if result["outcome"] == "SEIZURE":
            for dcl in self.store.get(f"idl|{info['importer_id']}") or {}:
                self._add(f"peer|{dcl}", {"n": 1.0}, t)

    def _add(self, key: str, deltas: Mapping[str, float], t: int) -> None:
        rec = self.store.get(key)
        if rec is None:
            rec = {"first": float(t)}
        for field, delta in deltas.items():
            rec[field] = rec.get(field, 0.0) + delta
        rec["last"] = float(t)
        self.store[key] = rec

    # -- idempotency and expiry -----------------------------------------------------------------

    def _first_sighting(self, event_id: str, t: int) -> bool:
        """Record an event id; False for a replay (or a stale event past the retention)."""
        day = t // tf.DAY_MS
        clock = self.store.get("clock")
        if clock is None:
            clock = {"min_day": float(day), "max_day": float(day)}
        if day < clock["max_day"] - self.retention_days:
            self.stale_events += 1
            return False
        seen = self.store.get(f"seen|{day}") or {}
        if event_id in seen:
            return False
        seen[event_id] = 1.0
        self.store[f"seen|{day}"] = seen
        clock["min_day"] = min(clock["min_day"], float(day))
        clock["max_day"] = max(clock["max_day"], float(day))
        self._expire(clock)
        self.store["clock"] = clock
        return True

    def _bucket_add(self, prefix: str, t: int, member: str) -> None:
        key = f"{prefix}|{t // tf.DAY_MS}"
        bucket = self.store.get(key) or {}
        bucket[member] = 1.0
        self.store[key] = bucket

    def _expire(self, clock: dict[str, float]) -> None:
        store = self.store
        while clock["min_day"] < clock["max_day"] - self.retention_days:
            day = int(clock["min_day"])
            store.pop(f"seen|{day}", None)
            for decl_id in store.pop(f"dix|{day}", None) or ():
                store.pop(f"decl|{decl_id}", None)
            clock["min_day"] += 1.0


def _aggregate(how: str, values: list[float]) -> float:
    if not values:
        return 0.0
    if how == "min":
        return min(values)
    return max(abs(v) for v in values)
