"""Drop duplicate deliveries: the same delivery id, or the same change (event identity).

Both keys are claimed in one atomic script, so two receivers racing on one
delivery enqueue it once. If enqueueing then fails, the claim is released so
the sender's retry is not mistaken for a duplicate.
"""

from __future__ import annotations

import redis

from worker.state import keys

PREFIX = keys.SEEN_PREFIX

# KEYS: keys to claim (1 or 2). ARGV[1]: ttl seconds. 1 = claimed, 0 = seen before.
_CLAIM = """
for i = 1, #KEYS do
  if redis.call('exists', KEYS[i]) == 1 then return 0 end
end
for i = 1, #KEYS do
  redis.call('set', KEYS[i], '1', 'EX', ARGV[1])
end
return 1
"""


def delivery_key(instance: str, delivery_id: str) -> str:
    return keys.seen_delivery(instance, delivery_id)


def identity_key(identity: str) -> str:
    return keys.seen_identity(identity)


class Deduper:
    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self._claim = client.register_script(_CLAIM)

    def claim(self, keys: list[str]) -> bool:
        """True if none of ``keys`` was seen within the TTL (and now they are)."""
        if not keys:
            return True
        return bool(self._claim(keys=keys, args=[self.ttl_seconds]))

    def release(self, keys: list[str]) -> None:
        if keys:
            self.client.delete(*keys)
