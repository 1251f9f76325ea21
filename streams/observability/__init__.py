"""zeikan.streams.observability"""
