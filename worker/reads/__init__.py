"""The read side: what Diamond learns from the forum, with one cache policy.

``forum_view`` holds the cached facts of the forum (category ids, user-field ids, group
members, the squad roster, topic facts); ``parse`` turns Discourse JSON (a webhook body
or an API answer) into the engine's facts; ``membership`` gathers what gating needs.
Nothing here writes to the forum (writes go through ``worker.apply.Applier``).
"""
