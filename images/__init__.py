"""zeikan.images"""
