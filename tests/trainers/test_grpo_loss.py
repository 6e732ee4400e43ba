"""GRPO's pure pieces against hand computations: advantages, k3, clipping, the loss."""

import math
import statistics

import pytest
import torch

from trainers.losses.grpo import group_advantages, grpo_loss, grpo_token_terms, k3_kl


def test_advantages_are_reward_minus_group_mean():
    rewards = torch.tensor([[10.0, 0.0, 0.0, 10.0], [0.0, 0.0, 0.0, 0.0], [10.0, 10.0, 10.0, 0.0]])
    adv, signal = group_advantages(rewards, scale_by_std=False)
    expected = [[5.0, -5.0, -5.0, 5.0], [0.0] * 4, [2.5, 2.5, 2.5, -7.5]]
    assert adv.tolist() == expected
    assert signal.tolist() == [True, False, True]


def test_advantages_over_group_std_match_hand_values():
    # The sample std (Bessel's correction), as TRL's GRPOTrainer (trl.trainer.utils.nanstd).
    groups = [[10.0, 0.0, 0.0, 0.0], [3.0, 1.0, 2.0, 6.0]]
    adv, signal = group_advantages(torch.tensor(groups), scale_by_std=True, eps=1e-4)
    from trl.trainer.utils import nanstd

    trl_std = nanstd(torch.tensor(groups), dim=1).tolist()
    for row, got, std_trl in zip(groups, adv.tolist(), trl_std, strict=True):
        mean, std = statistics.fmean(row), statistics.stdev(row)
        assert std == pytest.approx(std_trl, rel=1e-6)
        assert got == pytest.approx([(r - mean) / (std + 1e-4) for r in row], rel=1e-6)
    assert signal.all()


def test_constant_group_has_no_signal_and_zero_advantage_even_with_std():
    adv, signal = group_advantages(torch.full((1, 8), 10.0), scale_by_std=True)
    assert not signal.any()
    assert torch.equal(adv, torch.zeros(1, 8))


def test_k3_is_zero_when_policy_equals_reference():
    logps = torch.log_softmax(torch.randn(5, 11), dim=-1).flatten()
    assert torch.equal(k3_kl(logps, logps.clone()), torch.zeros_like(logps))


def test_k3_matches_formula_and_estimates_kl_without_bias():
    torch.manual_seed(0)
    p = torch.softmax(torch.randn(6), dim=0)
    q = torch.softmax(torch.randn(6), dim=0)
    lp, lq = p.log(), q.log()
    per_token = k3_kl(lp, lq)
    for a, b, got in zip(lp.tolist(), lq.tolist(), per_token.tolist(), strict=True):
        assert got == pytest.approx(math.exp(b - a) - (b - a) - 1, rel=1e-5)
        assert got >= 0
    samples = torch.multinomial(p, 200_000, replacement=True)
    estimate = k3_kl(lp[samples], lq[samples]).mean()
    true_kl = (p * (lp - lq)).sum()
    assert estimate == pytest.approx(float(true_kl), rel=0.03)


def _terms(ratios, advantages, **kw):
    old = torch.zeros(len(ratios))
    logps = torch.tensor(ratios).log().requires_grad_()
    terms = grpo_token_terms(logps, old, torch.tensor(advantages), **kw)
    return logps, terms


def test_clipping_engages_exactly_outside_the_asymmetric_range():
    ratios = [0.70, 0.79, 0.81, 1.00, 1.27, 1.29, 1.50, 0.70, 0.79, 0.81, 1.29, 1.50]
    advs = [1.0] * 7 + [-1.0] * 5
    logps, terms = _terms(ratios, advs, epsilon_low=0.2, epsilon_high=0.28)
    expected = [
        (a > 0 and r > 1.28) or (a < 0 and r < 0.8) for r, a in zip(ratios, advs, strict=True)
    ]
    assert terms.clipped.tolist() == expected
    terms.loss.sum().backward()
    for r, a, clipped, grad in zip(ratios, advs, expected, logps.grad.tolist(), strict=True):
        # d/dlogp of -(r A) is -r A; a clipped token gives no gradient.
        assert grad == pytest.approx(0.0 if clipped else -r * a, abs=1e-6)


def test_loss_equals_hand_computation_with_kl_and_whole_batch_normalization():
    ratios, advs, deltas = [1.1, 0.5, 1.4], [2.0, -1.0, 0.5], [0.3, -0.2, 0.0]
    logps = torch.tensor([-1.0, -2.0, -0.5])
    old = logps - torch.tensor(ratios).log()
    ref = logps + torch.tensor(deltas)
    beta, eps = 0.1, 0.2
    terms = grpo_token_terms(
        logps, old, torch.tensor(advs), ref, epsilon_low=eps, epsilon_high=eps, beta=beta
    )
    hand = []
    for r, a, d in zip(ratios, advs, deltas, strict=True):
        surrogate = min(r * a, min(max(r, 1 - eps), 1 + eps) * a)
        hand.append(-surrogate + beta * (math.exp(d) - d - 1))
    assert terms.loss.tolist() == pytest.approx(hand, rel=1e-5)
    # Normalized by the token count of the whole batch (here 7 tokens: 3 of this
    # micro-batch and 4 elsewhere), not averaged per sequence.
    assert float(grpo_loss(terms, 7)) == pytest.approx(sum(hand) / 7, rel=1e-5)


def test_beta_without_reference_is_an_error_and_beta_zero_needs_none():
    logps = torch.zeros(3)
    with pytest.raises(ValueError, match="reference"):
        grpo_token_terms(logps, logps, torch.ones(3), None, beta=0.1)
    terms = grpo_token_terms(logps, logps, torch.ones(3), None, beta=0.0)
    assert terms.kl is None and terms.loss.tolist() == [-1.0, -1.0, -1.0]
