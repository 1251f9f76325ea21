"""Interface of the online feature state shared by the stream and ``zeikan replay``.

The batch (polars) pipeline computes the same features for training; a parity
test proves online == batch for the same event history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable


@runtime_checkable
class FeatureState(Protocol):
    """Entity history (importers, declarants, HS x origin, routes) that features are computed from.

    Updates are idempotent: a replayed event (same declaration_id / inspection_id)
    changes nothing. Features of a declaration filed at t use only events before t.
    """

    def observe_declaration(self, declaration: Mapping) -> None:
        """Fold a filed declaration into the history (idempotent by declaration_id)."""
        ...

    def observe_inspection(self, result: Mapping) -> None:
        """Fold an inspection result into the history (idempotent by inspection_id)."""
        ...

    def features(self, declaration: Mapping) -> dict[str, float]:
        """Features of one declaration as of its ``filed_at`` (only earlier events count)."""
        ...
