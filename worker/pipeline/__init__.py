"""Event pipeline: signed webhooks and schedules become dramatiq jobs on Redis.

    receiver ─┐
    scheduler ├─ enqueue ids ──▶ Redis ──▶ worker (actors declared with ``diamond_actor``)
    catch-up ─┘

Domain code plugs in at three places: ``jobs.diamond_actor`` (declare an actor,
and add its module to ``jobs.ACTOR_MODULES``), ``routes.add_route`` (a webhook
event feeds an actor) and ``scheduler.add_periodic_job`` (a cron schedule feeds
an actor).
"""
