"""Imported by each ``diamond worker`` process of the crash story (``--actors``).

The fault story's in-process worker is configured by the test (``runtime.configure``); a
worker that is a real child process configures the same here, from its environment (the
story's roster it reads from the forum view in Redis, as the in-process story does):

- the story's compressed clock for waits: read retries inside a call, and the Applier's
  claim lease (a claim held by a killed worker is taken over after it; 90 s in
  production, a few seconds here, still far longer than one write to the local sandbox).
"""

from __future__ import annotations

import os

from tests.support.fault_story import CLAIM_LEASE_ENV, QUICK_READ_RETRY
from worker.pipeline import runtime

runtime.configure(
    read_retry=QUICK_READ_RETRY, claim_lease_seconds=int(os.environ.get(CLAIM_LEASE_ENV, "5"))
)
