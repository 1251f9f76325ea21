"""zeikan.streams.kafka"""
