"""Faust agents of the pipeline; each module registers its agents on a :class:`~zeikan.streams.app.Pipeline`."""
