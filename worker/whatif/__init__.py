"""Rehearse a rule change on recorded history before it touches anyone (``diamond whatif``).

The engines are pure functions of (rules, facts, now): a what-if reads the facts once
(the ledger, the roster, the staff), runs the engines under the current and the proposed
rules, and compares the decisions. Nothing is written: not to the forum, not to Redis.
"""
