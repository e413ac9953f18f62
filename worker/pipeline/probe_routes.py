"""Route ``post_created`` to ``probe.on_post`` (benchmarks and pipeline checks only).

diamond serve --actors worker.pipeline.probe worker.pipeline.probe_routes
"""

from __future__ import annotations

import worker.pipeline.probe  # noqa: F401 - the actor must be declared
from worker.pipeline.routes import add_route

add_route("post_created", "probe.on_post", ids={"post_id": "id"})
