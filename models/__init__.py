"""zeikan.models"""
