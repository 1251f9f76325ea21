"""The same features over a whole event history, with polars (training, evaluation).

The events are turned into rows by the shared definitions (``definitions.py``),
then the as-of aggregates are computed with polars:

* counters: per (key, time) sums, cumulative per key, joined to each declaration
  with a strict backward as-of join (``time <`` the start of the filing's epoch,
  :func:`definitions.asof_cutoff`);
* network links: (declarant, importer) pairs joined with the importer's seizures,
  each link dated max(pair's first filing, seizure time);
* rolling norms: per key, the window of the last ``WINDOW`` observations after each
  observation (shifted columns gathered into a sorted list), the last window
  before that instant again by strict as-of join (the price checks join other keys'
  windows the same way, without observing into them);

and the features derive from them with the same formulas as online
(``transforms.py``, ``definitions.derive``). A hypothesis test checks online == batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from zeikan.features import definitions as fd
from zeikan.features import transforms as tf
from zeikan.features.names import FEATURE_NAMES

COUNT_FIELDS: tuple[str, ...] = ("n", "trans", "insp", "disc", "seiz")
"""Every counter field an update may carry."""


def unique_by(events: Iterable[Mapping], id_field: str, time_field: str) -> list[Mapping]:
    """Events deduplicated by id (first occurrence wins), sorted by (time, id) like the online fold."""
    seen: dict[str, Mapping] = {}
    for event in events:
        seen.setdefault(event[id_field], event)
    return sorted(seen.values(), key=lambda e: (int(e[time_field]), e[id_field]))


def batch_features(
    declarations: Iterable[Mapping], inspections: Iterable[Mapping], *, window: int = tf.WINDOW
) -> pl.DataFrame:
    """One row per declaration: ``declaration_id``, ``filed_at`` and FEATURE_NAMES, as of its filing."""
    decls = unique_by(declarations, "declaration_id", "filed_at")
    insps = unique_by(inspections, "inspection_id", "inspected_at")
    if not decls:
        return pl.DataFrame(schema={"declaration_id": pl.String, "filed_at": pl.Int64} | dict.fromkeys(FEATURE_NAMES, pl.Float64))
    base = _declaration_frame(decls)
    valid = _valid_inspections(decls, insps)
    counters = pl.concat([_counter_events(decls, valid), _network_events(decls, valid)], how="vertical")
    cum = _cumulative(counters)
    frame = base
    for read in fd.DECLARATION_READS:
        keys = pl.Series("key", [read.key(d) for d in decls], dtype=pl.String)
        frame = frame.hstack(_read(cum, base.select("qid", "t", key=keys), read).get_columns())
    frame = frame.with_columns(
        [pl.col(f"{r.alias}_{f}").fill_null(pl.col("t") if f in fd.TIME_FIELDS else 0.0)
         for r in fd.DECLARATION_READS for f in r.fields]
    )
    derived = frame.select("qid", **fd.derive(pl.col))
    lines = _line_features(decls, cum)
    norms = _norm_features(decls, window)
    origins = _origin_mix_features(decls, cum)
    out = (
        base.select("qid", "declaration_id", "filed_at")
        .join(derived, on="qid", how="left")
        .join(lines, on="qid", how="left")
        .join(norms, on="qid", how="left")
        .join(origins, on="qid", how="left")
        .with_columns(
            pl.col(*fd.NORM_FEATURES, *fd.ORIGIN_MIX_FEATURES, "uv_hist_n", "new_importer_hs").fill_null(0.0),
            pl.col("desc_hs_share").fill_null(1.0),
        )
        .sort("qid")
    )
    return out.select("declaration_id", "filed_at", *[pl.col(n).cast(pl.Float64) for n in FEATURE_NAMES])


def _declaration_frame(decls: list[Mapping]) -> pl.DataFrame:
    own = pl.DataFrame([fd.own_values(d) for d in decls]).cast(pl.Float64)
    return own.with_columns(
        qid=pl.int_range(pl.len(), dtype=pl.Int64),
        declaration_id=pl.Series([d["declaration_id"] for d in decls], dtype=pl.String),
        filed_at=pl.Series([int(d["filed_at"]) for d in decls], dtype=pl.Int64),
    )


def _update_rows(rows: dict[str, list], updates: list[tuple[str, dict[str, float]]], t: int) -> None:
    for key, deltas in updates:
        rows["key"].append(key)
        rows["t"].append(t)
        for f in COUNT_FIELDS:
            rows[f].append(deltas.get(f, 0.0))


def _empty_rows() -> dict[str, list]:
    return {"key": [], "t": [], **{f: [] for f in COUNT_FIELDS}}


def _counter_schema() -> dict[str, Any]:
    return {"key": pl.String, "t": pl.Int64, **dict.fromkeys(COUNT_FIELDS, pl.Float64)}


def _valid_inspections(decls: list[Mapping], insps: list[Mapping]) -> list[tuple[Mapping, dict[str, Any]]]:
    """Inspection results that enter the history, with their declaration's info."""
    infos = {d["declaration_id"]: fd.declaration_info(d) for d in decls}
    out = []
    for r in insps:
        info = infos.get(r["declaration_id"])
        if info is not None and fd.inspection_counts(r, info):
            out.append((r, info))
    return out


Valid = list[tuple[Mapping, dict[str, Any]]]


def _counter_events(decls: list[Mapping], valid: Valid) -> pl.DataFrame:
    rows = _empty_rows()
    for d in decls:
        _update_rows(rows, fd.declaration_updates(d), int(d["filed_at"]))
    for r, info in valid:
        _update_rows(rows, fd.inspection_updates(r, info), int(r["inspected_at"]))
    return pl.DataFrame(rows, schema=_counter_schema())


def _network_events(decls: list[Mapping], valid: Valid) -> pl.DataFrame:
    """peer|D counts one link per (seizure of importer I, declarant D that filed for I), dated when both exist."""
    pairs = pl.DataFrame(
        {"dcl": [d["declarant_id"] for d in decls], "imp": [d["importer_id"] for d in decls],
         "t": [int(d["filed_at"]) for d in decls]},
        schema={"dcl": pl.String, "imp": pl.String, "t": pl.Int64},
    ).group_by("dcl", "imp").agg(pl.col("t").min().alias("first"))
    seized = [(info["importer_id"], int(r["inspected_at"])) for r, info in valid if r["outcome"] == "SEIZURE"]
    seizures = pl.DataFrame(seized, schema={"imp": pl.String, "ts": pl.Int64}, orient="row")
    links = pairs.join(seizures, on="imp", how="inner")
    return links.select(
        key=pl.lit("peer|") + pl.col("dcl"),
        t=pl.max_horizontal("first", "ts"),
        **{f: pl.lit(1.0 if f == "n" else 0.0) for f in COUNT_FIELDS},
    ).cast(_counter_schema())


def _cumulative(events: pl.DataFrame) -> pl.DataFrame:
    """Per key and time: the running sums after that time, the key's first and this (last) time."""
    return (
        events.group_by("key", "t")
        .agg(pl.col(f).sum() for f in COUNT_FIELDS)
        .sort("key", "t")
        .with_columns(
            *[pl.col(f).cum_sum().over("key") for f in COUNT_FIELDS],
            first=pl.col("t").min().over("key").cast(pl.Float64),
            last=pl.col("t").cast(pl.Float64),
        )
        .sort("t")
    )


def asof_time(t: pl.Expr) -> pl.Expr:
    """The as-of instant of a query at ``t`` (:func:`definitions.asof_cutoff` over a column)."""
    t = t.cast(pl.Int64)
    return t - t % fd.ASOF_EPOCH_MS


def _read(cum: pl.DataFrame, queries: pl.DataFrame, read: fd.Read) -> pl.DataFrame:
    """As-of values (strictly before the query's as-of instant) of one counter read, named ``alias_field``."""
    joined = queries.with_columns(asof_time(pl.col("t"))).sort("t").join_asof(
        cum, on="t", by="key", allow_exact_matches=False, check_sortedness=False
    )
    return joined.sort("qid").select(pl.col(f).alias(f"{read.alias}_{f}") for f in read.fields)


def _line_features(decls: list[Mapping], cum: pl.DataFrame) -> pl.DataFrame:
    qids, ts, ctxs = [], [], []
    for qid, d in enumerate(decls):
        for item in d["items"]:
            qids.append(qid)
            ts.append(int(d["filed_at"]))
            ctxs.append(fd.line_context(d, item))
    lines = pl.DataFrame({"qid": qids, "t": ts}, schema={"qid": pl.Int64, "t": pl.Int64}).with_row_index("lid")
    for read in fd.LINE_READS:
        keys = pl.Series("key", [read.key(c) for c in ctxs], dtype=pl.String)
        got = _read(cum, lines.select(qid="lid", t="t", key=keys), read)
        lines = lines.hstack(got.with_columns(pl.all().fill_null(0.0)).get_columns())
    return lines.group_by("qid").agg(
        new_importer_hs=(1.0 - tf.positive(pl.col("ih_n"))).mean(),
        desc_hs_share=fd.line_desc_share(pl.col("dh_n"), pl.col("d_n")).min(),
    )


def _origin_mix_features(decls: list[Mapping], cum: pl.DataFrame) -> pl.DataFrame:
    """The origin checks of ``definitions.ORIGIN_MIX_FEATURES``: one column each, per qid (null: no check)."""
    rows: dict[str, list] = {"qid": [], "cid": [], "feature": [], "other": [], "key": [], "t": []}
    cid = 0
    for qid, d in enumerate(decls):
        for check in fd.origin_mix_checks(d):
            for other, key in ((False, check.own), *((True, k) for k in check.others)):
                for name, value in (("qid", qid), ("cid", cid), ("feature", check.feature), ("other", other),
                                    ("key", key), ("t", int(d["filed_at"]))):
                    rows[name].append(value)
            cid += 1
    queries = pl.DataFrame(rows, schema={"qid": pl.Int64, "cid": pl.Int64, "feature": pl.String, "other": pl.Boolean,
                                         "key": pl.String, "t": pl.Int64})
    joined = queries.with_columns(asof_time(pl.col("t"))).sort("t").join_asof(
        cum.select("key", "t", "n"), on="t", by="key", allow_exact_matches=False, check_sortedness=False
    ).with_columns(pl.col("n").fill_null(0.0))
    n = pl.col("n")
    per_check = joined.group_by("qid", "cid", "feature").agg(
        own=n.filter(~pl.col("other")).sum(), others=n.filter(pl.col("other")).sum(),
    ).with_columns(value=tf.origin_lr(pl.col("others"), pl.col("own")))
    per_qid = per_check.group_by("qid").agg(
        pl.col("value").filter(pl.col("feature") == name).max().alias(name) for name in fd.ORIGIN_MIX_FEATURES
    )
    return per_qid.cast({"qid": pl.Int64, **dict.fromkeys(fd.ORIGIN_MIX_FEATURES, pl.Float64)})


def _norm_features(decls: list[Mapping], window: int) -> pl.DataFrame:
    rows: dict[str, list] = {"qid": [], "line": [], "feature": [], "key": [], "t": [], "eid": [], "x": []}
    for qid, d in enumerate(decls):
        for line_no, line in enumerate(fd.norm_observations(d)):
            for feature, key, x in line:
                for name, value in (("qid", qid), ("line", line_no), ("feature", feature), ("key", key),
                                    ("t", int(d["filed_at"])), ("eid", d["declaration_id"]), ("x", x)):
                    rows[name].append(value)
    obs = pl.DataFrame(rows, schema={"qid": pl.Int64, "line": pl.Int64, "feature": pl.String, "key": pl.String,
                                     "t": pl.Int64, "eid": pl.String, "x": pl.Float64})
    windows = _norm_windows(obs, window)
    per_line = _asof_z(obs, windows).with_columns(
        z=pl.col("z").fill_null(0.0), n_total=pl.col("n_total").fill_null(0.0),
    )
    line_z = {"min": lambda z: z.min(), "max": lambda z: z.max(), "maxabs": lambda z: z.abs().max()}
    aggs = [line_z[how](pl.col("z").filter(pl.col("feature") == name)).alias(name)
            for name, how in fd.NORM_FEATURES.items()]
    norms = per_line.group_by("qid").agg(*aggs, uv_hist_n=pl.col("n_total").filter(pl.col("feature") == "uv_z_hs").min())
    return norms.join(_probe_features(decls, windows), on="qid", how="left").with_columns(
        pl.col(*fd.PROBE_FEATURES).fill_null(0.0)
    )


def _norm_windows(obs: pl.DataFrame, window: int) -> pl.DataFrame:
    """Per norm key and observation time: median, IQR and size of the window after that time's observations."""
    lo, hi = tf.QUARTILES
    w = pl.col("w")
    size = w.list.len()
    return (
        obs.sort("key", "t", "eid", "line")
        .with_columns(
            w=pl.concat_list([pl.col("x").shift(j).over("key") for j in range(window)]).list.drop_nulls().list.sort(),
            n_total=pl.int_range(1, pl.len() + 1).over("key").cast(pl.Float64),
        )
        .with_columns(
            med=w.list.median(),
            iqr=w.list.get(((size - 1) * hi).floor().cast(pl.Int64)) - w.list.get(((size - 1) * lo).floor().cast(pl.Int64)),
            n=size.cast(pl.Float64),
        )
        .unique(subset=["key", "t"], keep="last", maintain_order=True)
        .select("key", "t", "med", "iqr", "n", "n_total")
        .sort("t")
    )


def _asof_z(queries: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """``queries`` (key, t, x) with the robust z of x against its key's window as of t (null: no window yet)."""
    joined = queries.with_columns(asof_time(pl.col("t"))).sort("t").join_asof(
        windows, on="t", by="key", allow_exact_matches=False, check_sortedness=False
    )
    return joined.with_columns(z=tf.robust_z(pl.col("x"), pl.col("med"), pl.col("iqr"), pl.col("n")))


def _probe_features(decls: list[Mapping], windows: pl.DataFrame) -> pl.DataFrame:
    """The price checks of ``definitions.PROBE_FEATURES``: one column each, per qid (null: no value)."""
    rows: dict[str, list] = {"qid": [], "pid": [], "feature": [], "other": [], "key": [], "t": [], "x": []}
    pid = 0
    for qid, d in enumerate(decls):
        for probe in fd.price_probes(d):
            for other, key in ((False, probe.own), *((True, k) for k in probe.others)):
                for name, value in (("qid", qid), ("pid", pid), ("feature", probe.feature), ("other", other),
                                    ("key", key), ("t", int(d["filed_at"])), ("x", probe.x)):
                    rows[name].append(value)
            pid += 1
    queries = pl.DataFrame(rows, schema={"qid": pl.Int64, "pid": pl.Int64, "feature": pl.String, "other": pl.Boolean,
                                         "key": pl.String, "t": pl.Int64, "x": pl.Float64})
    z = pl.col("z")
    per_probe = _asof_z(queries, windows).group_by("qid", "pid", "feature").agg(
        own=z.filter(~pl.col("other")).fill_null(0.0).first(),
        best=z.filter(pl.col("other")).abs().min(),
    ).with_columns(value=tf.price_fit(pl.col("own"), pl.col("best")))
    per_qid = per_probe.group_by("qid").agg(
        pl.col("value").filter(pl.col("feature") == name).max().alias(name) for name in fd.PROBE_FEATURES
    )
    return per_qid.cast({"qid": pl.Int64, **dict.fromkeys(fd.PROBE_FEATURES, pl.Float64)})
