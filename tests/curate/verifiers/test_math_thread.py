"""The math verifier's time limit holds off the main thread (no SIGALRM there)."""

import threading

from curate.verifiers import verify


def _in_thread(completion: str, truth: str) -> list:
    out: list = []

    def work() -> None:
        out.append(verify("math", completion, truth))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout=90)
    assert not worker.is_alive(), "the math verifier hung in a worker thread"
    return out


def test_power_tower_returns_from_a_thread():
    assert _in_thread(r"\boxed{2^{2^{2^{2^{2^{10}}}}}}", "4") == [0.0]


def test_thread_checks_still_score_correctly():
    assert _in_thread(r"$\boxed{\frac{1}{2}}$", "0.5") == [1.0]
    assert _in_thread("Final answer: 3", "4") == [0.0]
