"""The community's constitution: typed, frozen models of ``rules/`` and their loader.

from worker.rules import load_rules, Rules
rules = load_rules(Path("rules"))      # Rules, or raises RulesInvalid(problems)
rules.obligations.penalties.ladder[0].strikes
rules.message("camp_welcome", "zh", username="alice")
"""

from worker.rules.loader import load_rules
from worker.rules.models import *  # noqa: F403 - every section model is part of this API
from worker.rules.models import __all__ as _model_names
from worker.rules.problems import Problem, RulesInvalid

__all__ = ["Problem", "RulesInvalid", "load_rules", *_model_names]
