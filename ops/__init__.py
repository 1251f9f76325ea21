"""zeikan.ops"""
