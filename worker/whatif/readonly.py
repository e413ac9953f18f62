"""A Redis client that can only read: what-if code gets this one, so a write is a bug
that raises at once instead of changing a community's records."""

from __future__ import annotations

from typing import Any

import redis
from redis.client import Pipeline

# Every command the ledger and membership readers use, and nothing that writes.
READ_COMMANDS = frozenset(
    {
        "GET", "MGET", "EXISTS", "TYPE", "TTL", "PTTL", "STRLEN",
        "HGET", "HGETALL", "HMGET", "HKEYS", "HVALS", "HLEN", "HEXISTS", "HSCAN",
        "SMEMBERS", "SISMEMBER", "SCARD", "SSCAN",
        "ZRANGE", "ZRANGEBYSCORE", "ZREVRANGE", "ZREVRANGEBYSCORE", "ZCARD", "ZSCORE", "ZSCAN",
        "LRANGE", "LLEN", "LINDEX",
        "SCAN", "KEYS", "DBSIZE", "PING", "INFO", "TIME",
    }
)  # fmt: skip


class WriteRefused(RuntimeError):
    """Something tried to write through a read-only client."""


def _check(args: tuple[Any, ...]) -> None:
    name = args[0]
    name = (name.decode() if isinstance(name, bytes) else str(name)).upper()
    if name not in READ_COMMANDS:
        raise WriteRefused(f"what-if writes nothing; refused Redis command {name}")


class ReadOnlyPipeline(Pipeline):
    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        _check(args)
        return super().execute_command(*args, **kwargs)

    def multi(self) -> None:
        raise WriteRefused("what-if writes nothing; refused MULTI")


class ReadOnlyRedis(redis.Redis):
    """Shares ``source``'s connection pool; refuses every command not in ``READ_COMMANDS``."""

    @classmethod
    def over(cls, source: redis.Redis) -> ReadOnlyRedis:
        return cls(connection_pool=source.connection_pool)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        _check(args)
        return super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        # No MULTI/EXEC: reads need no transaction, and the pipeline checks each command.
        return ReadOnlyPipeline(self.connection_pool, self.response_callbacks, False, shard_hint)
