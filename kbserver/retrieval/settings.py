"""Ranking parameters from the service's settings: the same for the API and `kb eval`."""

from __future__ import annotations

from typing import Any

from kbserver import config
from kbserver.retrieval.scoring import RankParams


def rank_params(learning: Any = "on", no_match: Any = None) -> RankParams:
    """RankParams from KB_LEARNING and KB_NO_MATCH_THRESHOLD. Raises ValueError for a bad threshold."""
    use_examples = config.is_learning_on(learning)
    # None (unset) leaves each build's own calibrated threshold in force (scoring.for_build).
    return RankParams(use_examples=use_examples, no_match_threshold=config.no_match_threshold(no_match))
