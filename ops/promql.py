"""Metric names used by PromQL expressions (to check dashboards and alerts against the registry).

A small lexical pass, enough for the expressions zeikan writes: strings, label
matchers, range/subquery brackets and grouping clauses are removed, then every
identifier that is neither a function call nor a PromQL keyword is a metric name.

>>> sorted(metric_names_in('sum by (lane) (rate(zeikan_decisions_total{lane!="RELEASE"}[5m])) / on(lane) x_total offset 1d'))
['x_total', 'zeikan_decisions_total']
>>> sorted(metric_names_in('histogram_quantile(0.99, sum by (le) (rate(a_bucket[5m]))) > 1 and up == 0 or vector(0)'))
['a_bucket', 'up']
"""

from __future__ import annotations

import re

KEYWORDS = frozenset(
    {
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
        "offset", "bool", "atan2", "inf", "nan", "sum", "min", "max", "avg", "count", "stddev",
        "stdvar", "topk", "bottomk", "quantile", "count_values", "group", "limitk", "limit_ratio",
    }
)
"""Operators, modifiers and aggregations (an aggregation may precede its clause: ``sum by (x) (...)``)."""

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_BRACKETS = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_GRAFANA_VARIABLE = re.compile(r"\$\{?\w+\}?")
_IDENTIFIER = re.compile(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?")


def metric_names_in(expr: str) -> set[str]:
    """Names of the metrics that ``expr`` selects."""
    text = _STRING.sub('""', expr)
    for pattern in (_MATCHERS, _BRACKETS, _GROUPING, _GRAFANA_VARIABLE):
        text = pattern.sub(" ", text)
    return {
        match.group(1)
        for match in _IDENTIFIER.finditer(text)
        if match.group(2) is None and match.group(1).lower() not in KEYWORDS
    }
