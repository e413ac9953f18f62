"""A Discourse-compatible forum served from memory, for the demo, tests and rehearsals.

Python API::

    from worker.sandbox import start_sandbox

    with start_sandbox(port=0, api_key="k", rate_limit=(60, 60)) as sandbox:
        sandbox.url, sandbox.forum, sandbox.headers("alice"), sandbox.add_fault("...")

``build_sandbox()`` gives the same without a socket (``sandbox.app`` is a WSGI app).
"""

from worker.sandbox.faults import FaultRule, parse_rule
from worker.sandbox.server import (
    DEFAULT_API_KEY,
    RunningSandbox,
    Sandbox,
    build_sandbox,
    start_sandbox,
)
from worker.sandbox.state import Forum
from worker.sandbox.webhooks import Delivery, signature

__all__ = [
    "DEFAULT_API_KEY",
    "Delivery",
    "FaultRule",
    "Forum",
    "RunningSandbox",
    "Sandbox",
    "build_sandbox",
    "parse_rule",
    "signature",
    "start_sandbox",
]
