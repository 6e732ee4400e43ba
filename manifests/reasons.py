"""Every reason a stage may give for removing a row: one name each, with its meaning.

`Accounting` refuses a reason that is not here, so a stage, its summary and the run report
always speak of one thing by one name. (Rows that break their contract are not removed but
rejected, with their problem in the rejects file: see `manifests.gate`.)
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    # cleaning (synth dedup, pipeline dedup and decontaminate stages, mix, decontam)
    "duplicate_exact": "the same normalized prompt as a row kept before it",
    "duplicate_near": "a MinHash near-duplicate of a row kept before it",
    "contaminated": "matches an evaluation-set instance (decontamination)",
    # mixing
    "not_drawn": "left out by the recipe's take (count, fraction or token budget)",
    # synthesis and augmentation
    "duplicate_prompt": "a prompt record whose id appeared earlier in the same input",
    "backend_failed": "the model backend gave no answer (after retries)",
    "truncated": "the model's answer stopped at max_tokens",
    "missing_marker": "the generated prompt lacks the marker the template asks for",
    "no_answer": "no sample gave an answer the verifier can read",
    "low_agreement": "too few samples agree on one answer",
    "failed_verification": "no sample passes the check of the known ground truth",
    "not_verified": "the answer could not be verified",
    "no_verifier": "an rlvr row needs a verifier this prompt does not name",
    "no_prompt": "the row has no user turn to augment",
    "beyond_max_prompts": "past the stage's max_prompts",
    # preference pairs
    "no_completion": "no pool model answered",
    "one_usable_completion": "only one usable answer, no pair to build",
    "no_passing_completion": "no answer passes the check (no chosen side)",
    "no_failing_completion": "every answer passes the check (no rejected side)",
    "judge_failed": "the judge model gave no answer",
    "judge_unparsed": "the judge's answer held no score we could read",
    "tie": "the judge scored the best answers alike",
    "below_margin": "the judge's scores differ by less than the margin",
    # tagging
    "empty_text": "no text to tag or train the tagger on",
    # training
    "no_assistant_turn": "an sft/preference row with no assistant turn to learn from",
    "no_labels_after_truncation": "max_length cut away every label token",
    "no_labels_after_pack_length": "pack_length cut away every label token",
    "last_turn_not_user": "an rlvr prompt whose last turn is not the user's",
    "prompt_too_long": "an rlvr prompt longer than max_length - max_new_tokens",
}

# Names written by earlier versions into files a later run reads back (stage.json,
# summaries, token-cache statistics); they are read as their one name today.
RENAMED: dict[str, str] = {
    "dedup_exact": "duplicate_exact",
    "dedup_minhash": "duplicate_near",
    "duplicate_minhash": "duplicate_near",
    "decontaminated": "contaminated",
}


def check_reason(reason: str) -> str:
    """`reason` itself, or ValueError when it is not in `REASONS`."""
    if reason not in REASONS:
        raise ValueError(
            f"unknown removal reason {reason!r}: add it, with its meaning, to "
            "manifests/reasons.py (REASONS)"
        )
    return reason


def current_name(reason: str) -> str:
    """A reason as read from a file an earlier version wrote: its name today."""
    return check_reason(RENAMED.get(reason, reason))
