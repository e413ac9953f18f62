"""The obligations ledger's post recording (``worker.ledger.ingest``, ``weekly``).

The ledger's store is ``worker.state.ledger``; the weekly jobs are in ``worker.steps``.
"""

from worker.state.ledger import Ledger, TopicInfo

__all__ = ["Ledger", "TopicInfo"]
