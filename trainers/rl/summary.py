"""RLVR's summary lines: the shared ones plus prompts, skipped groups, rewards, evaluation."""

from __future__ import annotations

from trainers.core.summary import summary_lines


def _eval_line(name: str, report: dict | None) -> str:
    if not report or not report["rows"]:
        return f"eval {name}: no held-out rows"
    per = ", ".join(
        f"{v}: pass@1 {r['pass@1']:.3f}" for v, r in sorted(report["per_verifier"].items())
    )
    return (
        f"eval {name}: {report['rows']} rows, pass@1 {report['pass@1']:.3f}, "
        f"mean reward {report['mean_reward']:.3f} ({per})"
    )


def rlvr_summary_lines(summary: dict) -> list[str]:
    lines = summary_lines(summary)
    lines.insert(
        -1,
        f"prompts: {summary['train_prompts']} train, {summary['eval_prompts']} "
        f"held out; generation: {summary['generation_backend']}",
    )
    lines.insert(
        -1,
        "zero-signal groups (no policy gradient; their KL term is kept when "
        f"beta > 0): {summary['zero_signal_groups_skipped']}",
    )
    if summary.get("final_reward") is not None:
        lines.insert(
            -1,
            f"train reward: first step {summary['first_reward']:.3f}, "
            f"last step {summary['final_reward']:.3f}",
        )
    eval_acc = summary.get("eval_accounting")
    if eval_acc:
        removed = ", ".join(f"{k}={v}" for k, v in sorted(eval_acc["removed"].items())) or "none"
        lines.insert(
            -1,
            f"eval rows in {eval_acc['rows_in']}, out {eval_acc['rows_out']}, "
            f"removed {sum(eval_acc['removed'].values())} ({removed}), "
            f"rejected {eval_acc['rejected']}",
        )
    if summary["eval_prompts"]:
        lines.insert(-1, _eval_line("before", summary["eval"]["before"]))
        lines.insert(-1, _eval_line("after", summary["eval"]["after"]))
    return lines
