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
    rows = [{"id": str(i), "source": "s", "messages": [{"role": "user", "content": t}]}
            for i, t in enumerate(texts)]
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
            DecontamFilter([gsm_eval], method="ngram",
                           exclusion_writer=JsonlWriter(str(tmp_path / "removed"))),
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
