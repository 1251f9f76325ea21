"""What the web app knows, folded from the contract topics: worklist rows, history, rule statistics.

:class:`WorklistIndex` is pure (no Kafka, no web): the feed calls :meth:`WorklistIndex.apply`
with each decoded record; pages ask :meth:`WorklistIndex.worklist`, :meth:`WorklistIndex.case`
and :meth:`WorklistIndex.rule_stats`. Each (office, lane) keeps its own bucket; a bucket's
risk order is sorted once and cached until it changes, so thousands of rows stay fast.

>>> index = WorklistIndex()
>>> index.apply("decisions", {"declaration_id": "D1", "office_id": "JPYOK", "stage": "PRE_ARRIVAL",
...     "action": "SCAN", "risk_score": 0.9, "rule_hits": [], "random_selected": False, "decided_at": 0, "event_time": 0})
>>> [row.declaration_id for row in index.worklist({"JPYOK"}).rows]
['D1']
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from zeikan.streams.engine.lanes import Action

SELECTED_LANES: tuple[str, ...] = tuple(a.value for a in Action if a is not Action.RELEASE)
"""Lanes an officer acts on; the worklist shows them unless a lane is chosen."""
LANES: tuple[str, ...] = tuple(a.value for a in Action)
STAGE_ORDER = {"PRE_ARRIVAL": 0, "POST_SCAN": 1}
FINDING_OUTCOMES = frozenset({"DISCREPANCY", "SEIZURE"})


@dataclass(frozen=True)
class Row:
    """One worklist line: the declaration's current decision with a summary of what was declared."""

    declaration_id: str
    office_id: str
    lane: str
    decision: Mapping[str, Any]
    declaration: Mapping[str, Any] | None
    overdue: Mapping[str, Any] | None
    outcomes: tuple[str, ...]
    """outcomes of the inspections recorded so far"""

    @property
    def inspected(self) -> bool:
        """Whether an inspection result was recorded."""
        return bool(self.outcomes)

    @property
    def risk(self) -> float:
        """Risk score of the current decision."""
        return float(self.decision["risk_score"])

    @property
    def hs_codes(self) -> list[str]:
        """Distinct HS codes of the items, in line order."""
        return list(dict.fromkeys(str(i["hs_code"]) for i in (self.declaration or {}).get("items", ())))

    @property
    def value(self) -> str:
        """Total customs value with its currency (or ``?`` before the declaration is read)."""
        items = (self.declaration or {}).get("items", ())
        if not items:
            return "?"
        total = sum((Decimal(str(i["customs_value"])) for i in items), Decimal("0"))
        currencies = sorted({str(i["currency"]) for i in items})
        return f"{total:,.2f} {'/'.join(currencies)}"

    def matches(self, text: str) -> bool:
        """Whether ``text`` (lower case) is in the id, importer, declarant, HS codes, countries or rule hits."""
        decl = self.declaration or {}
        hay = [self.declaration_id, str(decl.get("importer_id", "")), str(decl.get("declarant_id", "")),
               str(decl.get("origin_country", "")), str(decl.get("dispatch_country", "")),
               *self.hs_codes, *self.decision.get("rule_hits", ())]
        return any(text in h.lower() for h in hay)


@dataclass(frozen=True)
class Page:
    """One page of the worklist."""

    rows: list[Row]
    total: int
    page: int
    pages: int
    lane_counts: dict[str, int]


@dataclass(frozen=True)
class Case:
    """Everything the declaration page shows."""

    declaration_id: str
    office_id: str
    declaration: Mapping[str, Any] | None
    decisions: list[Mapping[str, Any]]
    overdue: Mapping[str, Any] | None
    inspections: list[Mapping[str, Any]]
    scans: dict[str, Mapping[str, Any]]
    importer_history: list[Row]
    declarant_history: list[Row]


@dataclass
class RuleStat:
    """Hits of one rule and what inspections of its hits found, risk-selected vs random."""

    hits: int = 0
    inspected: dict[str, int] = field(default_factory=lambda: {"risk": 0, "random": 0})
    found: dict[str, int] = field(default_factory=lambda: {"risk": 0, "random": 0})

    def hit_rate(self, selection: str) -> float | None:
        """Share of inspected hits with a finding (None before any inspection)."""
        n = self.inspected[selection]
        return self.found[selection] / n if n else None


class WorklistIndex:
    """Decisions, declarations, scans, overdue scans and inspection results, indexed for the pages."""

    def __init__(self) -> None:
        self.declarations: dict[str, Mapping[str, Any]] = {}
        self.decisions: dict[str, dict[str, Mapping[str, Any]]] = {}
        self.overdue: dict[str, Mapping[str, Any]] = {}
        self.inspections: dict[str, dict[str, Mapping[str, Any]]] = defaultdict(dict)
        self.scans: dict[str, Mapping[str, Any]] = {}
        self._by_party: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._buckets: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._sorted: dict[tuple[str, str], list[str]] = {}
        self._placed: dict[str, tuple[str, str]] = {}
        self.rule_hits: Counter[str] = Counter()
        self.records_read: Counter[str] = Counter()
        self._seen_at: dict[str, int] = {}
        self.latest_event_ms = 0

    # --- folding -------------------------------------------------------------------------------

    def apply(self, topic: str, record: Mapping[str, Any]) -> None:
        """Fold one decoded record of a contract topic (other topics are ignored)."""
        handler = _HANDLERS.get(topic)
        if handler is not None:
            handler(self, record)
            self.records_read[topic] += 1
            key = str(record["scan_id"] if topic == "scans" else record["declaration_id"])
            at = int(record[_EVENT_TIME[topic]])
            self._seen_at[key] = max(at, self._seen_at.get(key, 0))
            self.latest_event_ms = max(self.latest_event_ms, at)

    def _declaration(self, record: Mapping[str, Any]) -> None:
        did = str(record["declaration_id"])
        self.declarations[did] = record
        self._by_party[("importer", str(record["importer_id"]))].add(did)
        self._by_party[("declarant", str(record["declarant_id"]))].add(did)
        self._touch(did)

    def _decision(self, record: Mapping[str, Any]) -> None:
        did = str(record["declaration_id"])
        current = self.current(did)
        if current is not None:
            self.rule_hits.subtract(current.get("rule_hits", ()))
        self.decisions.setdefault(did, {})[str(record["stage"])] = record
        self.rule_hits.update(self.current(did).get("rule_hits", ()))  # type: ignore[union-attr]
        self._place(did)

    def _overdue(self, record: Mapping[str, Any]) -> None:
        did = str(record["declaration_id"])
        self.overdue[did] = record
        self._touch(did)

    def _inspection(self, record: Mapping[str, Any]) -> None:
        self.inspections[str(record["declaration_id"])][str(record["inspection_id"])] = record
        self._touch(str(record["declaration_id"]))

    def _scan(self, record: Mapping[str, Any]) -> None:
        self.scans[str(record["scan_id"])] = record

    def current(self, declaration_id: str) -> Mapping[str, Any] | None:
        """The latest-stage decision of a declaration."""
        stages = self.decisions.get(declaration_id)
        if not stages:
            return None
        return stages[max(stages, key=STAGE_ORDER.__getitem__)]

    def _place(self, did: str) -> None:
        decision = self.current(did)
        if decision is None:
            return
        where = (str(decision["office_id"]), str(decision["action"]))
        old = self._placed.get(did)
        if old is not None and old != where:
            self._buckets[old].discard(did)
            self._sorted.pop(old, None)
        self._buckets[where].add(did)
        self._placed[did] = where
        self._sorted.pop(where, None)

    def _touch(self, did: str) -> None:
        if did in self._placed:
            self._sorted.pop(self._placed[did], None)

    def forget_before(self, cutoff_ms: int) -> int:
        """Drop every declaration (and its decisions, results, scans) last seen before ``cutoff_ms``; returns how many."""
        old = [key for key, at in self._seen_at.items() if at < cutoff_ms]
        for key in old:
            del self._seen_at[key]
            if self.scans.pop(key, None) is not None:
                continue
            current = self.current(key)
            if current is not None:
                self.rule_hits.subtract(current.get("rule_hits", ()))
            decl = self.declarations.pop(key, None)
            if decl is not None:
                for role in ("importer", "declarant"):
                    party = (role, str(decl[f"{role}_id"]))
                    self._by_party[party].discard(key)
                    if not self._by_party[party]:
                        del self._by_party[party]
            self.decisions.pop(key, None)
            self.overdue.pop(key, None)
            self.inspections.pop(key, None)
            where = self._placed.pop(key, None)
            if where is not None:
                self._buckets[where].discard(key)
                self._sorted.pop(where, None)
        self.rule_hits = +self.rule_hits
        return len(old)

    def size(self) -> int:
        """Declarations and scans held."""
        return len(self._seen_at)

    # --- reading -------------------------------------------------------------------------------

    def row(self, did: str) -> Row | None:
        """The worklist row of one declaration (None before its first decision)."""
        decision = self.current(did)
        if decision is None:
            return None
        return Row(did, str(decision["office_id"]), str(decision["action"]), decision,
                   self.declarations.get(did), self.overdue.get(did),
                   tuple(r["outcome"] for r in self.inspections.get(did, {}).values()))

    def offices(self) -> list[str]:
        """Every office seen in a decision."""
        return sorted({office for office, _ in self._buckets})

    def _ordered(self, key: tuple[str, str]) -> list[str]:
        order = self._sorted.get(key)
        if order is None:
            risk = {did: float(self.current(did)["risk_score"]) for did in self._buckets.get(key, ())}  # type: ignore[index]
            order = sorted(risk, key=lambda did: (-risk[did], did))
            self._sorted[key] = order
        return order

    def worklist(self, offices: Iterable[str], office: str | None = None, lane: str | None = None,
                 text: str = "", page: int = 1, page_size: int = 50) -> Page:
        """Rows of the allowed ``offices`` (narrowed to ``office``/``lane``/``text``), highest risk first."""
        allowed = set(offices) if office is None else set(offices) & {office}
        lanes = (lane,) if lane else SELECTED_LANES
        counts = {ln: sum(len(self._buckets.get((o, ln), ())) for o in allowed) for ln in LANES}
        orders = [self._ordered((o, ln)) for o in sorted(allowed) for ln in lanes]
        if len(orders) == 1:
            ids = orders[0]
        else:
            merged = [did for order in orders for did in order]
            risk = {did: float(self.current(did)["risk_score"]) for did in merged}  # type: ignore[index]
            ids = sorted(merged, key=lambda did: (-risk[did], did))
        rows: Iterable[Row] = (r for did in ids if (r := self.row(did)) is not None)
        needle = text.strip().lower()
        if needle:
            selected = [r for r in rows if r.matches(needle)]
            total = len(selected)
        else:
            total = len(ids)
        pages = max(1, -(-total // page_size))
        page = min(max(1, page), pages)
        start = (page - 1) * page_size
        if needle:
            shown = selected[start:start + page_size]
        else:
            shown = [r for did in ids[start:start + page_size] if (r := self.row(did)) is not None]
        return Page(shown, total, page, pages, counts)

    def office_of(self, did: str) -> str | None:
        """The office a declaration belongs to (from its decision, else its filing)."""
        decision = self.current(did)
        if decision is not None:
            return str(decision["office_id"])
        decl = self.declarations.get(did)
        return str(decl["office_id"]) if decl else None

    def case(self, did: str) -> Case | None:
        """The declaration page's content (None if nothing is known of ``did``)."""
        office = self.office_of(did)
        if office is None:
            return None
        decl = self.declarations.get(did)
        stages = self.decisions.get(did, {})
        decisions = [stages[s] for s in sorted(stages, key=STAGE_ORDER.__getitem__)]
        scan_ids = {e["scan_id"] for d in decisions for e in d.get("image_evidence", ())}
        return Case(did, office, decl, decisions, self.overdue.get(did),
                    sorted(self.inspections.get(did, {}).values(), key=lambda r: r["inspected_at"]),
                    {sid: self.scans[sid] for sid in sorted(scan_ids) if sid in self.scans},
                    self._history("importer", decl, did), self._history("declarant", decl, did))

    def _history(self, role: str, decl: Mapping[str, Any] | None, did: str) -> list[Row]:
        if decl is None:
            return []
        others = self._by_party.get((role, str(decl[f"{role}_id"])), set()) - {did}
        earlier = [self.declarations[o] for o in others if self.declarations[o]["filed_at"] <= decl["filed_at"]]
        earlier.sort(key=lambda d: d["filed_at"], reverse=True)
        return [r for d in earlier[:20] if (r := self.row(str(d["declaration_id"]))) is not None]

    def rule_stats(self) -> dict[str, RuleStat]:
        """Per rule id: hits among current decisions and hit rates of inspected hits, risk vs random."""
        stats: dict[str, RuleStat] = defaultdict(RuleStat)
        for rule_id, hits in self.rule_hits.items():
            if hits > 0:
                stats[rule_id].hits = hits
        for did, results in self.inspections.items():
            decision = self.current(did)
            if decision is None or not results:
                continue
            selection = "random" if decision.get("random_selected") else "risk"
            found = any(r["outcome"] in FINDING_OUTCOMES for r in results.values())
            for rule_id in decision.get("rule_hits", ()):
                stats[rule_id].inspected[selection] += 1
                stats[rule_id].found[selection] += int(found)
        return dict(stats)


_HANDLERS = {
    "declarations": WorklistIndex._declaration,
    "decisions": WorklistIndex._decision,
    "scan-overdue": WorklistIndex._overdue,
    "inspection-results": WorklistIndex._inspection,
    "scans": WorklistIndex._scan,
}
_EVENT_TIME = {"declarations": "filed_at", "decisions": "event_time", "scan-overdue": "deadline",
               "inspection-results": "inspected_at", "scans": "scanned_at"}
"""The event-time field of each fed topic: what the horizon is measured on."""
FED_TOPICS: tuple[str, ...] = tuple(_HANDLERS)
"""The contract topics the web app reads."""
