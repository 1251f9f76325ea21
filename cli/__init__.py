"""zeikan.cli"""
