"""Forum configuration as code: ``plugin_config/`` → plan → apply.

- ``desired``: typed models of ``plugin_config/`` (+ badges from the rules) and the loader;
- ``actual``: reads the live forum into the same shape;
- ``diff``: pure ``diff(desired, actual) -> Plan``;
- ``safety``: refuses plans that touch too much of what Diamond owns;
- ``apply``: executes a plan through the forum client, each step safe to repeat;
- ``render``: the human-readable plan, secrets masked.
"""
