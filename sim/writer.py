"""JSON Lines output of the file contract (fast path: records formatted directly in schema field order).

Every line is one event with Avro field names; times are int epoch-millis, money
fields are JSON numbers with exactly two decimals. Each builder returns
``(event_time, id, line)`` rows so that :func:`write_sorted` can order a whole run by
event time, ties broken by id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from zeikan.sim.catalog import COUNTRIES, GOODS, OFFICES, TRANSPORT_MODES, UNITS
from zeikan.sim.fraud import KINDS
from zeikan.sim.policy import INSPECTION_TYPES, OUTCOMES
from zeikan.sim.world import Day

Row = tuple[int, str, str]
"""(event time, event id, JSON line)."""

CURRENCY = "USD"
_DESCRIPTION = [json.dumps(d) for d in GOODS.description]
_HS = GOODS.hs_code
_UNIT = [UNITS[u] for u in GOODS.unit]
_OFFICE = [o.office_id for o in OFFICES]


def importer_id(i: int) -> str:
    """Public id of importer number ``i``."""
    return f"IMP{i:05d}"


def declarant_id(i: int) -> str:
    """Public id of declarant number ``i``."""
    return f"DCL{i:04d}"


def unrendered_uri(scan_id: str) -> str:
    """Image URI of a scan whose image was not rendered (the contract requires a non-empty URI)."""
    return f"unrendered://{scan_id}"


def _list(values: Iterable[str]) -> str:
    return "[" + ",".join(f'"{v}"' for v in values) + "]"


def declaration_rows(day: Day, ids: list[str]) -> list[Row]:
    """One DeclarationFiled per declaration of the day."""
    d = day.declared
    ptr, cptr = day.item_ptr.tolist(), day.containers.ptr.tolist()
    goods, qty, weight, value = d.goods.tolist(), d.quantity.tolist(), d.weight_kg.tolist(), d.value.tolist()
    slots = day.containers.slots.tolist()
    rows = []
    for k, (filed, office, imp, dcl, org, dsp, mode, arr) in enumerate(zip(
        day.filed_at.tolist(), day.office.tolist(), day.importer.tolist(), day.declarant.tolist(),
        day.origin.tolist(), day.dispatch.tolist(), day.mode.tolist(), day.expected_arrival.tolist(),
    )):
        items = ",".join(
            f'{{"line_no":{i - ptr[k] + 1},"hs_code":"{_HS[goods[i]]}","description":{_DESCRIPTION[goods[i]]},'
            f'"quantity":{qty[i]!r},"quantity_unit":"{_UNIT[goods[i]]}","gross_weight_kg":{weight[i]!r},'
            f'"customs_value":{value[i]:.2f},"currency":"{CURRENCY}"}}'
            for i in range(ptr[k], ptr[k + 1])
        )
        containers = _list(day.container_id[c] for c in slots[cptr[k]:cptr[k + 1]])
        rows.append((filed, ids[k], (
            f'{{"declaration_id":"{ids[k]}","filed_at":{filed},"office_id":"{_OFFICE[office]}",'
            f'"importer_id":"{importer_id(imp)}","declarant_id":"{declarant_id(dcl)}",'
            f'"origin_country":"{COUNTRIES[org]}","dispatch_country":"{COUNTRIES[dsp]}",'
            f'"transport_mode":"{TRANSPORT_MODES[mode]}","conveyance_ref":{json.dumps(day.conveyance[k])},'
            f'"expected_arrival":{arr},"containers":{containers},"items":[{items}]}}'
        )))
    return rows


def scan_rows(day: Day, scan_ids: list[str], declaration_ids: list[str], images: dict[str, tuple[str, str]]) -> list[Row]:
    """One ScanCompleted per scanned container (see :func:`unrendered_uri` when no image was rendered)."""
    s = day.scans
    members = day.members(s.container)
    container_office = {}
    for c, decls in members.items():
        container_office[c] = _OFFICE[day.office[decls[0]]]
    rows = []
    for k, (c, at, named) in enumerate(zip(s.container.tolist(), s.scanned_at.tolist(), s.names_declarations.tolist())):
        uri, sha = images.get(scan_ids[k], (unrendered_uri(scan_ids[k]), ""))
        linked = _list(declaration_ids[d] for d in members[c]) if named else "[]"
        rows.append((at, scan_ids[k], (
            f'{{"scan_id":"{scan_ids[k]}","container_id":"{day.container_id[c]}","scanned_at":{at},'
            f'"scanner_id":"{s.scanner[k]}","office_id":"{container_office[c]}","image_uri":{json.dumps(uri)},'
            f'"image_sha256":"{sha}","energy":"{s.energy[k]}","declaration_ids":{linked}}}'
        )))
    return rows


def inspected_order(day: Day) -> list[int]:
    """Inspected declarations in the order their results arrive (time, then declaration)."""
    inspected = [d for d in range(len(day)) if day.selection.inspection_type[d] >= 0]
    return sorted(inspected, key=lambda d: (int(day.inspected_at[d]), d))


def inspection_rows(day: Day, order: list[int], inspection_ids: list[str], declaration_ids: list[str]) -> list[Row]:
    """One InspectionResult per inspected declaration, ``order`` from :func:`inspected_order`."""
    rows = []
    for k, d in enumerate(order):
        at = int(day.inspected_at[d])
        office = _OFFICE[day.office[d]]
        findings = ",".join(
            f'{{"line_no":{int(day.fraud.target_line[d] - day.item_ptr[d]) + 1},"kind":"{KINDS[j]}",'
            f'"note":{json.dumps(_note(day, d, j))}}}'
            for j in range(len(KINDS)) if (int(day.findings.found[d]) >> j) & 1
        )
        rows.append((at, inspection_ids[k], (
            f'{{"inspection_id":"{inspection_ids[k]}","declaration_id":"{declaration_ids[d]}","inspected_at":{at},'
            f'"officer_id":"{office}-O{int(day.officer[d]):02d}",'
            f'"inspection_type":"{INSPECTION_TYPES[day.selection.inspection_type[d]]}",'
            f'"outcome":"{OUTCOMES[day.findings.outcome[d]]}","findings":[{findings}],'
            f'"revenue_recovered":{day.findings.revenue_recovered[d]:.2f},'
            f'"random_selected":{"true" if day.selection.random_selected[d] else "false"}}}'
        )))
    return rows


def _note(day: Day, d: int, kind: int) -> str:
    """Plain-language note of a finding, from the true and declared line."""
    i = int(day.fraud.target_line[d])
    t, dec = day.truth, day.declared
    unit = _UNIT[t.goods[i]]
    if KINDS[kind] == "UNDERVALUATION":
        return f"declared value {dec.value[i]:.2f} USD, assessed {t.value[i]:.2f} USD"
    if KINDS[kind] == "MISDECLARED_GOODS":
        return f"goods are {_HS[t.goods[i]]} ({GOODS.description[t.goods[i]]}), declared as {_HS[dec.goods[i]]}"
    if KINDS[kind] == "QUANTITY":
        return f"counted {t.quantity[i]:.10g} {unit}, declared {dec.quantity[i]:.10g} {_UNIT[dec.goods[i]]}"
    if KINDS[kind] == "WEIGHT":
        return f"weighed {t.weight_kg[i]:.1f} kg, declared {dec.weight_kg[i]:.1f} kg"
    if KINDS[kind] == "ORIGIN":
        return f"origin established as {COUNTRIES[day.true_origin[d]]}, declared {COUNTRIES[day.origin[d]]}"
    g = int(day.fraud.hidden_goods[d])
    return f"undeclared {GOODS.description[g]} ({day.fraud.hidden_quantity[d]:.10g} {_UNIT[g]}) hidden in the container"


def truth_rows(day: Day, ids: list[str]) -> list[Row]:
    """Hidden truth per declaration: fraud, its kinds, revenue at risk, concealment, latent fraud probability.

    ``fraud_probability`` is the probability the fraud draw used (before the draw);
    ``fraud_posterior`` the generator's probability given the declaration too, with the
    prior of the true facts (the first oracle, :mod:`zeikan.sim.posterior`);
    ``fraud_posterior_observed`` the probability given only what the declaration shows,
    the hidden facts summed out (the Bayes oracle, :mod:`zeikan.sim.observed_posterior`);
    ``is_fraud`` is the draw.
    """
    f = day.fraud
    revenue = f.revenue_by_kind.sum(axis=1).tolist()
    rows = []
    for k, (filed, kinds, conceal, prob, post, observed) in enumerate(zip(
        day.filed_at.tolist(), f.kinds.tolist(), f.concealment.tolist(), f.probability.tolist(), day.posterior.tolist(),
        day.observed_posterior.tolist(),
    )):
        names = _list(KINDS[j] for j in range(len(KINDS)) if (kinds >> j) & 1)
        rows.append((filed, ids[k], (
            f'{{"declaration_id":"{ids[k]}","is_fraud":{"true" if kinds else "false"},"fraud_kinds":{names},'
            f'"revenue_at_risk":{revenue[k]:.2f},"concealment":{"true" if conceal >= 0 else "false"},'
            f'"fraud_probability":{prob:.6g},"fraud_posterior":{post:.6g},"fraud_posterior_observed":{observed:.6g}}}'
        )))
    return rows


def write_sorted(path: Path, rows: list[Row]) -> int:
    """Write the rows' lines to ``path`` ordered by (event time, id); returns the line count."""
    rows.sort(key=lambda r: (r[0], r[1]))
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for _, _, line in rows)
    return len(rows)

