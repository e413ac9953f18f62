"""The pure layer: decisions about people as functions of (rules, facts, now).

Nothing in this package reads the clock, the network, Redis or files.
"""
