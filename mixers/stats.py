"""What a finished mix holds: rows per skill and per source, as a table and a bar chart."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from manifests.shards import load_manifest


def _scan(shard_dir: Path, manifest: dict) -> pl.LazyFrame:
    files = [str(shard_dir / s["file"]) for s in manifest["shards"]]
    if manifest["format"] == "parquet":
        return pl.scan_parquet(files)
    return pl.concat([pl.scan_ipc(f) for f in files])


def _counts(frame: pl.LazyFrame, column: str, total: int) -> list[dict]:
    counted = (
        frame.group_by(column)
        .agg(pl.len().alias("rows"))
        .sort(["rows", column], descending=[True, False])
        .collect()
    )
    return [
        {"name": name, "rows": rows, "share": round(rows / total, 4) if total else 0.0}
        for name, rows in counted.iter_rows()
    ]


def mix_stats(shard_dir: str | Path) -> dict:
    """Rows per skill and per source (read from the shards), with the manifest's accounting."""
    folder = Path(shard_dir)
    manifest = load_manifest(folder)
    total = manifest["total_rows"]
    frame = _scan(folder, manifest).select(["skill", "source"])
    return {
        "name": manifest.get("name"),
        "kind": manifest["kind"],
        "total_rows": total,
        "shards": len(manifest["shards"]),
        "skills": _counts(frame, "skill", total),
        "sources": _counts(frame, "source", total),
        "accounting": manifest.get("sources") or [],
        "token_counts": manifest.get("token_counts"),
    }


def format_stats(stats: dict) -> str:
    """A plain-text table of a mix's statistics."""
    lines = [
        f"mix {stats['name'] or '?'}: {stats['total_rows']} {stats['kind']} rows in "
        f"{stats['shards']} shard(s)"
    ]
    for key in ("skills", "sources"):
        lines.append(f"\n{key[:-1]:<32} {'rows':>10} {'share':>7}")
        lines += [f"{c['name']:<32} {c['rows']:>10} {c['share']:>7.1%}" for c in stats[key]]
    if stats["accounting"]:
        lines.append(
            f"\n{'source':<24} {'available':>10} {'selected':>9} {'out':>9} "
            f"{'dedup':>7} {'decont':>7} {'reject':>7} {'not drawn':>10}"
        )
        for s in stats["accounting"]:
            dedup = s["deduplicated"]["exact"] + s["deduplicated"]["minhash"]
            lines.append(
                f"{s['name']:<24} {s['available']:>10} {s['selected']:>9} "
                f"{s['rows_out']:>9} {dedup:>7} {s['decontaminated']:>7} "
                f"{s['rejected']:>7} {s['not_drawn']:>10}"
            )
    tokens = stats.get("token_counts")
    if tokens:
        lines.append(f"\ntokens ({tokens['tokenizer']}): {tokens['total']}")
    return "\n".join(lines)


def plot_stats(stats: dict, png: str | Path) -> Path:
    """A bar chart of rows per skill and per source, written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("skill", stats["skills"]), ("source", stats["sources"])]
    height = max(3.0, 0.35 * max(len(stats["skills"]), len(stats["sources"])) + 1.5)
    fig, axes = plt.subplots(1, 2, figsize=(12, height))
    for ax, (label, counts) in zip(axes, panels, strict=True):
        names = [c["name"] for c in counts][::-1]
        rows = [c["rows"] for c in counts][::-1]
        ax.barh(names, rows, color="#4477aa")
        ax.set_xlabel("rows")
        ax.set_title(f"rows per {label}")
    fig.suptitle(f"{stats['name'] or 'mix'}: {stats['total_rows']} rows")
    fig.tight_layout()
    path = Path(png)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
