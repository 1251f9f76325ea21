"""zeikan.schemas"""
