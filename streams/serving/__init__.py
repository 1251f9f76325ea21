"""zeikan.streams.serving"""
