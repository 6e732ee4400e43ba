"""Rewards from the verifiers in `curate.verifiers`: a verified answer earns
`correct_reward` (Tülu 3: 10), anything else 0; a completion that never stopped can pay a
penalty."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from curate.verifiers import canonical_name, get_verifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RewardSpec:
    correct_reward: float = 10.0
    partial_credit: bool = False  # reward x score (IFEval: share of constraints met)
    no_stop_penalty: float = 0.0  # subtracted when generation hit max_new_tokens


@dataclass(frozen=True)
class Scored:
    reward: float
    score: float  # the verifier's value in [0, 1]
    correct: bool  # score == 1: fully verified
    error: bool  # the verifier raised (e.g. a ground truth it cannot parse)


def known_verifier(name: str) -> str | None:
    """The canonical name of a verifier, or None when there is no such verifier."""
    return canonical_name(name)


def verifier_score(verifier: str, completion: str, ground_truth: str) -> tuple[float, bool]:
    """(score, error): a verifier that raises scores 0 and is reported, never fatal
    mid-run; the run's metrics count these as `verifier_errors`."""
    try:
        return float(get_verifier(verifier)(completion, ground_truth)), False
    except Exception as err:  # a verifier's failure is one sample's problem, not the run's
        log.warning("verifier %s failed on ground truth %.80r: %s", verifier, ground_truth, err)
        return 0.0, True


def reward_for(score: float, stopped: bool, spec: RewardSpec) -> float:
    base = (
        spec.correct_reward * score
        if spec.partial_credit
        else (spec.correct_reward if score >= 1.0 else 0.0)
    )
    return base - (0.0 if stopped else spec.no_stop_penalty)


def score_completion(
    verifier: str, completion: str, ground_truth: str, stopped: bool, spec: RewardSpec
) -> Scored:
    score, error = verifier_score(verifier, completion, ground_truth)
    return Scored(
        reward=reward_for(score, stopped, spec), score=score, correct=score >= 1.0, error=error
    )
