"""zeikan.features"""
