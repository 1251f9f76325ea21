"""zeikan.sim"""
