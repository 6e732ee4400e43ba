import gzip
import json

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from decontam import find_contamination
from decontam.steps import DecontamFilter, chat_adapter


def test_filter_drops_what_find_contamination_flags(pool_texts, gsm_eval, gsm_questions):
    texts = pool_texts[:80] + [f"Q: {q}" for q in gsm_questions]
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    step = DecontamFilter([gsm_eval], method="all", batch_size=16)
    kept = {doc.id for doc in step.run(iter(docs))}
    rows = [
        {"id": str(i), "source": "s", "messages": [{"role": "user", "content": t}]}
        for i, t in enumerate(texts)
    ]
    flagged = find_contamination(rows, [gsm_eval], method="all", max_ngram_rows=None).flagged
    assert kept == {str(i) for i in range(len(texts))} - flagged["s"]
    assert len(flagged["s"]) == len(gsm_questions)
    dropped = [d for d in docs if d.id not in kept]
    assert all(d.metadata["decontam"][0]["eval"] == "gsm" for d in dropped)


def test_runs_under_datatrove_executor(tmp_path, make_row, pool_texts, gsm_eval, gsm_questions):
    data = tmp_path / "data"
    data.mkdir()
    with open(data / "rows.jsonl", "w") as fh:
        for i, t in enumerate(pool_texts[:40] + gsm_questions):
            fh.write(json.dumps(make_row(i, t)) + "\n")
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(data), adapter=chat_adapter("user")),
            DecontamFilter(
                [gsm_eval], method="ngram", exclusion_writer=JsonlWriter(str(tmp_path / "removed"))
            ),
            JsonlWriter(str(tmp_path / "kept")),
        ],
        tasks=1,
        logging_dir=str(tmp_path / "logs"),
    ).run()

    def count(folder):
        return sum(
            len(gzip.open(p, "rt").read().splitlines()) for p in (tmp_path / folder).glob("*.gz")
        )

    assert count("kept") == 40
    assert count("removed") == len(gsm_questions)


def _lines(folder):
    out = []
    for path in sorted(folder.glob("*.gz")):
        with gzip.open(path, "rt") as fh:
            out.extend(json.loads(line) for line in fh)
    return out


def test_every_shape_checked_and_written_as_its_contract(tmp_path, pool_texts, gsm_questions):
    from decontam.steps import DecontamFilter, contract_adapter, contract_writer_adapter

    data = tmp_path / "data"
    data.mkdir()
    texts = pool_texts[:30] + gsm_questions  # the last 5 of each shape are contaminated
    alpaca = [{"instruction": t, "input": "", "output": "ok", "source": "alpaca"} for t in texts]
    sharegpt = [
        {
            "conversations": [{"from": "human", "value": t}, {"from": "gpt", "value": "ok"}],
            "source": "sharegpt",
        }
        for t in texts
    ]
    messages = [
        {
            "id": f"m{i}",
            "source": "chat",
            "messages": [{"role": "user", "content": t}, {"role": "assistant", "content": "ok"}],
        }
        for i, t in enumerate(texts)
    ]
    broken = [
        {"conversations": "not a list"},
        {"weird": 1},
        {"messages": [{"role": "assistant", "content": "only an answer"}]},
    ]
    rows = alpaca + sharegpt + messages + broken
    (data / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(data), adapter=contract_adapter("user")),
            DecontamFilter(
                [gsm_eval_spec(tmp_path, gsm_questions)],
                method="ngram",
                exclusion_writer=JsonlWriter(
                    str(tmp_path / "removed"), adapter=contract_writer_adapter
                ),
                reject_writer=JsonlWriter(
                    str(tmp_path / "rejects"), adapter=contract_writer_adapter
                ),
            ),
            JsonlWriter(str(tmp_path / "kept"), adapter=contract_writer_adapter),
        ],
        tasks=1,
        logging_dir=str(tmp_path / "logs"),
    ).run()
    kept, removed = _lines(tmp_path / "kept"), _lines(tmp_path / "removed")
    rejects = _lines(tmp_path / "rejects")
    assert len(rows) == len(kept) + len(removed) + len(rejects)
    assert (len(kept), len(removed), len(rejects)) == (90, 15, 3)
    # kept rows are contract rows, not datatrove documents
    assert all(set(r) >= {"id", "source", "skill", "messages", "metadata"} for r in kept)
    assert {r["source"] for r in kept} == {"alpaca", "sharegpt", "chat"}
    assert (
        sorted(r["row"]["source"] for r in removed)
        == ["alpaca"] * 5 + ["chat"] * 5 + ["sharegpt"] * 5
    )
    assert all(r["matches"][0]["eval"] == "gsm" for r in removed)
    assert [r["row"] for r in rejects] == [106, 107, 108]
    assert all(r["problem"] and r["file"] for r in rejects)
    stats = json.loads(next((tmp_path / "logs" / "stats").glob("*.json")).read_text())
    counted = next(s for s in stats if "decontam" in s["name"])["stats"]
    assert counted["rejected"] == 3


def gsm_eval_spec(tmp_path, questions):
    path = tmp_path / "gsm.jsonl"
    path.write_text(
        "".join(json.dumps({"id": f"g{i}", "question": q}) + "\n" for i, q in enumerate(questions))
    )
    return f"gsm={path}:question"
