"""Incremental, idempotent, point-in-time feature state for the stream and ``zeikan replay``.

State lives in a plain ``MutableMapping[str, dict]`` (a dict, or a Faust table:
every changed record is written back with ``store[key] = record``). Records:

* counters ``imp|I``, ``impx|I``, ``dcl|D``, ``dclx|D``, ``peer|D``, ``di|D|I``,
  ``org|C``, ``dsp|C``, ``ih|I|H``, ``dh|DESC|H``, ``d|DESC``, ``g`` — sums of
  numbers plus ``first``/``last`` update times (see ``definitions.py``);
* rolling norms ``uv|H``, ``uvo|H|C``, ``uvf|H|O``, ``wpu|H|U``, ``vpk|H``, ``uvi|I|H``, ``wpo|H|U|C`` —
  ``{"v": [last WINDOW values, oldest first], "s": [the same, sorted], "n": count}``;
  (the price checks of ``definitions.price_probes`` read other keys' norms, never write them);
* counters ``imo|I|C`` and ``hso|H|C`` — earlier declarations of an importer and lines of an
  HS-6 from each origin (``definitions.origin_mix_checks`` reads them);
* ``idl|I`` — the declarants an importer used (``{declarant: 1.0}``, network links);
* ``decl|ID`` — importer/declarant/origin/filed_at of recent declarations and the digest of
  what they said, so an inspection result can be attributed: one string per declaration
  (:func:`pack_info`); ``seen|DAY`` — event ids by day, for idempotency and expiry (a
  declaration's ``decl|`` entry goes with its day); ``clock`` — day bookkeeping.

Memory is bounded: norms keep the last ``WINDOW`` values per key (a rolling window
by count, so the median and quartiles are exact over it; the window is kept
sorted too, so a robust z costs O(1) to read and O(WINDOW) memmove to update);
counters are O(entities seen within ``entity_horizon_ms``: a weekly sweep forgets
those not updated for longer); event ids, the declaration index and inspections
still waiting for their declaration (``orph|ID``) are kept for ``retention_ms`` only (events older than the
newest seen minus the retention are dropped as stale and counted in
``stale_events``; an inspection more than ``INSPECTION_HORIZON_MS`` after its
filing does not count, on both paths).

Point-in-time: features are taken as of the start of the declaration's event-time
epoch (``definitions.asof_cutoff``). An observed event is folded into the aggregates
only once the as-of instant passes it (:meth:`advance`, or a later declaration's
``features``; events at or after it wait in a small in-memory heap), so
``features(d)`` sees exactly the events with time < ``asof_cutoff(d.filed_at)`` when
events arrive in time order. Ties fold declarations before
inspections, then by event id — the batch path sorts the same way.

Speed (the stream's hot path): a declaration's norm observations and line keys are
built once and shared by ``features`` and the later fold (the stream calls
``features(d)`` then ``observe_declaration(d)`` with the same record object; the
parse is kept by identity); ``python -m zeikan.bench.model`` prints the rate.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Mapping, MutableMapping
from typing import Any

from zeikan.features import definitions as fd
from zeikan.features import transforms as tf
from zeikan.features.names import FEATURE_NAMES
from zeikan.features.transforms import robust_z

DECLARATION, INSPECTION = 0, 1
"""Event kinds, in tie-breaking order."""


_LOW_Q, _HIGH_Q = tf.QUARTILES
_READS = [
    (read.key, [(f, f"{read.alias}_{f}", f in fd.TIME_FIELDS) for f in read.fields])
    for read in fd.DECLARATION_READS
]
"""Per declaration read: its key function and (field, aggregate name, is a time) triples."""
_NORMS = tuple(fd.NORM_FEATURES.items())
"""Norm features in the order :func:`fd.norm_observations` yields them per line."""

PARSED_KEPT = 2048
"""Parsed declarations kept by identity: a worker features a batch, then folds the same objects."""

Parsed = tuple[list[list[tuple[str, str, float]]], list[tuple[str, ...]]]
"""A declaration's norm observations and per-line keys (computed once for features and fold)."""


class OnlineFeatureState:
    """The FeatureState the stream keeps (see the module docstring for the state layout)."""

    def __init__(
        self,
        store: MutableMapping[str, Any] | None = None,
        *,
        window: int = tf.WINDOW,
        retention_ms: int = fd.INSPECTION_HORIZON_MS + tf.DAY_MS,
        entity_horizon_ms: int = 365 * tf.DAY_MS,
        epoch_ms: int = fd.ASOF_EPOCH_MS,
    ) -> None:
        self.store: MutableMapping[str, Any] = store if store is not None else {}
        self.window = window
        self.retention_days = retention_ms // tf.DAY_MS
        self.entity_horizon_days = entity_horizon_ms // tf.DAY_MS
        self.epoch_ms = epoch_ms
        self.stale_events = 0
        self.unmatched_inspections = 0
        self._pending: list[tuple[int, int, str, Mapping, Parsed | None]] = []
        self._watermark = -(2**63)
        self._parsed: dict[int, tuple[Mapping, Parsed]] = {}
        """The last ``PARSED_KEPT`` declarations parsed, by identity (a batch is featured, then folded)."""
        self._order = [_window_order(m) for m in range(window + 1)]

    # -- FeatureState -------------------------------------------------------------------------

    def observe_declaration(self, declaration: Mapping) -> bool:
        """Fold a filed declaration into the history (idempotent by declaration_id); False for a replay."""
        return self._observe(int(declaration["filed_at"]), DECLARATION, declaration["declaration_id"], declaration)

    def observe_inspection(self, result: Mapping) -> bool:
        """Fold an inspection result into the history (idempotent by inspection_id); False for a replay."""
        return self._observe(int(result["inspected_at"]), INSPECTION, result["inspection_id"], result)

    def advance(self, cutoff: int) -> None:
        """Fold every observed event earlier than ``cutoff`` (an as-of instant) into the aggregates."""
        if cutoff > self._watermark:
            self._watermark = cutoff
            self._fold_pending()

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy of the state (taken between folds: nothing may be pending)."""
        if self._pending:
            raise RuntimeError("snapshot with events still pending")
        return {"store": dict(self.store), "stale": self.stale_events, "unmatched": self.unmatched_inspections,
                "watermark": self._watermark}

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the state by a :meth:`snapshot`."""
        self.store.clear()
        self.store.update(snapshot["store"])
        self.stale_events = int(snapshot["stale"])
        self.unmatched_inspections = int(snapshot["unmatched"])
        self._watermark = int(snapshot["watermark"])
        self._pending.clear()
        self._parsed.clear()

    def declaration_info(self, declaration_id: str) -> dict[str, Any] | None:
        """What the history keeps of a folded declaration (within the retention, with its ``digest``), or None."""
        packed = self.store.get(f"decl|{declaration_id}")
        return None if packed is None else unpack_info(packed)

    def note_digest(self, declaration_id: str, digest: str) -> None:
        """Keep the content digest of a folded declaration with its index entry (no-op once it expired)."""
        key = f"decl|{declaration_id}"
        packed = self.store.get(key)
        if packed is not None:
            self.store[key] = packed[: packed.rindex(INFO_SEP) + 1] + digest

    def features(self, declaration: Mapping) -> dict[str, float]:
        """Features of one declaration as of the start of its epoch (only earlier events count)."""
        self.advance(fd.asof_cutoff(int(declaration["filed_at"]), self.epoch_ms))
        get = self.store.get
        agg = fd.own_values(declaration)
        now = agg["t"]
        for key, fields in _READS:
            rec = get(key(declaration))
            if rec:
                for f, name, is_time in fields:
                    agg[name] = rec.get(f, now if is_time else 0.0)
            else:
                for _, name, is_time in fields:
                    agg[name] = now if is_time else 0.0
        out = fd.derive(agg.__getitem__)
        out.update(self._line_features(self._parse(declaration)))
        out.update(self._probe_features(declaration))
        out.update(self._origin_mix_features(declaration))
        return {name: float(out[name]) for name in FEATURE_NAMES}

    def _parse(self, declaration: Mapping) -> Parsed:
        """Norm observations and line keys of a declaration, kept for the last ``PARSED_KEPT`` (features, then observe)."""
        kept = self._parsed.get(id(declaration))
        if kept is not None and kept[0] is declaration:
            return kept[1]
        parsed = (fd.norm_observations(declaration), fd.line_keys(declaration))
        self._parsed[id(declaration)] = (declaration, parsed)
        if len(self._parsed) > PARSED_KEPT:
            del self._parsed[next(iter(self._parsed))]
        return parsed

    # -- features of lines ----------------------------------------------------------------------

    def _z(self, rec: Mapping, x: float) -> float:
        """Robust z of x against a norm record's sorted window: median and quartiles by index."""
        w = rec["s"]
        m = len(w)
        a, b, lo, hi = self._order[m]
        return robust_z(x, (w[a] + w[b]) * 0.5, w[hi] - w[lo], float(m))

    def _probe_features(self, declaration: Mapping) -> dict[str, float]:
        """The price checks against other norms (``definitions.PROBE_FEATURES``)."""
        get = self.store.get
        best: dict[str, float] = {}
        for probe in fd.price_probes(declaration):
            others = [abs(self._z(rec, probe.x)) for rec in map(get, probe.others) if rec]
            if not others:
                continue
            own = get(probe.own)
            value = tf.price_fit(self._z(own, probe.x) if own else 0.0, min(others))
            if probe.feature not in best or value > best[probe.feature]:
                best[probe.feature] = value
        return {feature: best.get(feature, 0.0) for feature in fd.PROBE_FEATURES}

    def _origin_mix_features(self, declaration: Mapping) -> dict[str, float]:
        """Earlier origins of the importer and of the HS-6 (``definitions.ORIGIN_MIX_FEATURES``)."""
        get = self.store.get
        best: dict[str, float] = {}
        for check in fd.origin_mix_checks(declaration):
            value = tf.origin_lr(sum(_count(get(k)) for k in check.others), _count(get(check.own)))
            if check.feature not in best or value > best[check.feature]:
                best[check.feature] = value
        return {feature: best.get(feature, 0.0) for feature in fd.ORIGIN_MIX_FEATURES}

    def _line_features(self, parsed: Parsed) -> dict[str, float]:
        get = self.store.get
        norms, keys = parsed
        per_line = []
        hist_n = []
        for line in norms:
            zs = []
            for _, key, x in line:
                rec = get(key)
                zs.append(self._z(rec, x) if rec else 0.0)
            per_line.append(zs)
            first = get(line[0][1])  # the uv_z_hs norm: its history size is uv_hist_n
            hist_n.append(first["n"] if first else 0.0)
        out = dict.fromkeys(fd.NORM_FEATURES, 0.0)
        for (feature, how), column in zip(_NORMS, zip(*per_line)):
            out[feature] = min(column) if how == "min" else max(column) if how == "max" else max(map(abs, column))
        new_pairs = 0.0
        desc_share = 1.0
        for i, (ih, dh, d) in enumerate(keys):
            new_pairs += 1.0 - tf.positive(_count(get(ih)))
            share = fd.line_desc_share(_count(get(dh)), _count(get(d)))
            if i == 0 or share < desc_share:
                desc_share = share
        out["uv_hist_n"] = min(hist_n, default=0.0)
        out["new_importer_hs"] = new_pairs / len(keys) if keys else 0.0
        out["desc_hs_share"] = desc_share
        return out

    # -- folding ---------------------------------------------------------------------------------

    def _observe(self, t: int, kind: int, event_id: str, event: Mapping) -> bool:
        if not self._first_sighting(event_id, t):
            return False
        parsed = self._parse(event) if kind == DECLARATION else None
        if t < self._watermark:
            self._fold(t, kind, event, parsed)
        else:
            heapq.heappush(self._pending, (t, kind, event_id, event, parsed))
        return True

    def _fold_pending(self) -> None:
        pending = self._pending
        while pending and pending[0][0] < self._watermark:
            t, kind, _, event, parsed = heapq.heappop(pending)
            self._fold(t, kind, event, parsed)

    def _fold(self, t: int, kind: int, event: Mapping, parsed: Parsed | None) -> None:
        if parsed is not None:
            self._fold_declaration(t, event, parsed)
        else:
            self._fold_inspection(t, event)

    def _fold_declaration(self, t: int, declaration: Mapping, parsed: Parsed) -> None:
        store = self.store
        norms, keys = parsed
        add, ft, get = self._add, float(t), store.get
        for key, deltas in fd.entity_updates(declaration):
            add(key, deltas, ft)
        for line in keys:  # the per-line counters of fd.declaration_updates: n += 1
            for key in line:
                rec = get(key)
                if rec is None:
                    rec = {"first": ft, "n": 1.0}
                else:
                    rec["n"] += 1.0
                rec["last"] = ft
                store[key] = rec
        imp, dcl = declaration["importer_id"], declaration["declarant_id"]
        links = store.get(f"idl|{imp}") or {}
        if dcl not in links:
            links[dcl] = 1.0
            store[f"idl|{imp}"] = links
            seized = (store.get(f"impx|{imp}") or {}).get("seiz", 0.0)
            add(f"peer|{dcl}", {"n": seized}, ft)
        window = self.window
        for line in norms:
            for _, key, x in line:
                rec = store.get(key)
                if rec is None:
                    rec = {"v": [x], "s": [x], "n": 1.0}
                else:
                    values, ordered = rec["v"], rec["s"]
                    values.append(x)
                    insort(ordered, x)
                    if len(values) > window:
                        del ordered[bisect_left(ordered, values.pop(0))]
                    rec["n"] += 1.0
                store[key] = rec
        decl_id = declaration["declaration_id"]
        if self._retained(t):  # folded after its day expired: its seen| ids are gone, so an entry would never leave
            store[f"decl|{decl_id}"] = pack_info(fd.declaration_info(declaration))
        for orphan in store.pop(f"orph|{decl_id}", None) or ():
            self.unmatched_inspections -= 1
            self._fold_inspection(int(orphan["inspected_at"]), orphan)

    def _fold_inspection(self, t: int, result: Mapping) -> None:
        decl_id = result["declaration_id"]
        info = self.declaration_info(decl_id)
        if info is None:  # kept for a declaration that arrives late, within the retention
            self.store[f"orph|{decl_id}"] = [*(self.store.get(f"orph|{decl_id}") or ()), dict(result)]
            self._bucket_add("orx", t, decl_id)
            self.unmatched_inspections += 1
            return
        if not fd.inspection_counts(result, info):
            return
        ft = float(t)
        for key, deltas in fd.inspection_updates(result, info):
            self._add(key, deltas, ft)
        if result["outcome"] == "SEIZURE":
            for dcl in self.store.get(f"idl|{info['importer_id']}") or {}:
                self._add(f"peer|{dcl}", {"n": 1.0}, ft)

    def _add(self, key: str, deltas: Mapping[str, float], t: float) -> None:
        store = self.store
        rec = store.get(key)
        if rec is None:
            rec = {"first": t}
        for field, delta in deltas.items():
            rec[field] = rec.get(field, 0.0) + delta
        rec["last"] = t
        store[key] = rec

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
        seen[event_id] = True
        self.store[f"seen|{day}"] = seen
        clock["min_day"] = min(clock["min_day"], float(day))
        clock["max_day"] = max(clock["max_day"], float(day))
        self._expire(clock)
        self.store["clock"] = clock
        return True

    def _retained(self, t: int) -> bool:
        """Whether day ``t`` is still within the retention (its ``seen|`` ids not yet expired)."""
        clock = self.store.get("clock")
        return clock is None or t // tf.DAY_MS >= clock["min_day"]

    def _bucket_add(self, prefix: str, t: int, member: str) -> None:
        key = f"{prefix}|{t // tf.DAY_MS}"
        bucket = self.store.get(key) or {}
        bucket[member] = 1.0
        self.store[key] = bucket

    def _expire(self, clock: dict[str, float]) -> None:
        store = self.store
        while clock["min_day"] < clock["max_day"] - self.retention_days:
            day = int(clock["min_day"])
            for event_id in store.pop(f"seen|{day}", None) or ():
                store.pop(f"decl|{event_id}", None)
            for decl_id in store.pop(f"orx|{day}", None) or ():
                if store.pop(f"orph|{decl_id}", None) is not None:
                    self.unmatched_inspections -= 1
            clock["min_day"] += 1.0
            if int(clock["min_day"]) % 7 == 0:
                self._expire_entities((clock["max_day"] - self.entity_horizon_days) * tf.DAY_MS)

    def _expire_entities(self, before: float) -> None:
        """Forget entity counters not updated since ``before`` (a sweep once a week of event time)."""
        store = self.store
        for key in [k for k, rec in store.items() if isinstance(rec, dict) and rec.get("last", before) < before]:
            del store[key]


INFO_SEP = "\x1f"
"""Separates the fields of a packed declaration index entry (no identifier holds a control character)."""


def pack_info(info: Mapping[str, Any], digest: str = "") -> str:
    """A declaration index entry as one string: the fields of :data:`~zeikan.features.definitions.DECLARATION_INFO`
    and the digest. A dict each took 512 bytes, and a 62-day retention holds 308,000 of them at 5,000
    declarations a day (``bench/restart.py``, round 6)."""
    return INFO_SEP.join([*(str(info[f]) for f in fd.DECLARATION_INFO), digest])


def unpack_info(packed: str) -> dict[str, Any]:
    """The fields of a :func:`pack_info` entry (``filed_at`` an int) and its ``digest``.

    >>> unpack_info(pack_info({"importer_id": "I1", "declarant_id": "D1", "origin_country": "CN", "filed_at": 5}, "ab"))
    {'importer_id': 'I1', 'declarant_id': 'D1', 'origin_country': 'CN', 'filed_at': 5, 'digest': 'ab'}
    """
    *values, digest = packed.split(INFO_SEP)
    info: dict[str, Any] = dict(zip(fd.DECLARATION_INFO, values))
    info["filed_at"] = int(info["filed_at"])
    info["digest"] = digest
    return info


def _window_order(m: int) -> tuple[int, int, int, int]:
    """Indexes in a sorted window of m values: the two middle ones (median = their mean) and the quartiles.

    Quartile q is the value at index floor((m - 1) * q), as in ``transforms.QUARTILES``.
    """
    return (m - 1) // 2, m // 2, int((m - 1) * _LOW_Q), int((m - 1) * _HIGH_Q)


def _count(record: Mapping | None) -> float:
    return record["n"] if record else 0.0
