"""zeikan.bench"""
