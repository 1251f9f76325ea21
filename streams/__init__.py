"""zeikan.streams"""
