"""The obligations ledger: posts per week and squad, threads, leave and strikes, in Redis.

from worker.ledger import Ledger, rebuild, run_audit
"""

from worker.ledger.weekly import (
    AuditRun,
    RebuildReport,
    open_threads,
    rebuild,
    run_audit,
    run_reminder,
)
from worker.state.ledger import Ledger, TopicInfo

__all__ = [
    "AuditRun",
    "Ledger",
    "RebuildReport",
    "TopicInfo",
    "open_threads",
    "rebuild",
    "run_audit",
    "run_reminder",
]
