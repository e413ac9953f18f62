"""The state side: what Diamond remembers in Redis, and nothing else.

One store per domain (``membership``, ``ledger``, ``recognition``) and ``keys``, which
builds every ``diamond:*`` key. Stores never read the forum and never decide.
"""
