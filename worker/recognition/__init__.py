"""Recognition and health at the edges: the Redis store of posts/likes/badges and fact gathering.

The decisions are in ``worker.engine.recognition`` and ``worker.engine.health``.
"""
