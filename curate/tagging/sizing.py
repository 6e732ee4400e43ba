"""How big a fastText tagger is: buckets, dimension and quantization scaled to the data.

fastText's model holds (words + bucket) x dim floats. Its stock `bucket` of 2,000,000 with
dim 64 writes 512 MB whatever the data, though a few hundred labelled rows hold a few
thousand word n-grams. The defaults here follow the data instead:

- bucket: a few times the distinct word n-grams of the training text (hash collisions
  stay rare), between a floor and fastText's stock size as the ceiling;
- dim: a few per label (a softmax over k labels needs no more than a few times k);
- quantization (fastText's product quantizer, the .ftz format) when the plain model
  would still be large: it cuts size about 8x, costs seconds of k-means, and measured
  precision/recall stayed within noise (docs/curate.md, "Tagger size").

Explicit settings always win; a bucket given by hand is not quantized unless asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

BUCKET_PER_NGRAM = 4
BUCKET_FLOOR = 10_000
BUCKET_CEILING = 2_000_000  # fastText's own default
DIM_PER_LABEL = 4
DIM_FLOOR, DIM_CEILING = 16, 64
QUANTIZE_ABOVE_BYTES = 16 * 2**20  # plain models above this are quantized by default
EOS = "</s>"  # fastText appends it to every line before it forms n-grams


class NgramCounter:
    """Distinct word n-grams (2..n words, as fastText forms them) of the training lines.

    Counts hashes, and stops adding once the count alone would reach the ceiling, so memory
    stays bounded on large labelled sets.
    """

    def __init__(self, word_ngrams: int) -> None:
        self.n = word_ngrams
        self.cap = -(-BUCKET_CEILING // BUCKET_PER_NGRAM)
        self._seen: set[int] = set()
        self.words: set[str] = set()

    def add(self, text: str) -> None:
        tokens = text.split()
        if len(self.words) < BUCKET_CEILING:
            self.words.update(tokens)
        if self.n < 2 or len(self._seen) >= self.cap:
            return
        tokens.append(EOS)
        for size in range(2, self.n + 1):
            for i in range(len(tokens) - size + 1):
                self._seen.add(hash(tuple(tokens[i : i + size])))

    @property
    def distinct(self) -> int:
        return len(self._seen)


@dataclass(frozen=True)
class TaggerSize:
    """The settings a tagger was trained with, and why."""

    bucket: int
    dim: int
    quantize: bool
    distinct_ngrams: int
    words: int
    labels: int

    def plain_bytes(self) -> int:
        return 4 * (self.words + self.bucket) * self.dim

    def to_dict(self) -> dict:
        return asdict(self)


def choose_size(
    counter: NgramCounter,
    labels: Iterable[str],
    *,
    bucket: int | None = None,
    dim: int | None = None,
    quantize: bool | None = None,
) -> TaggerSize:
    """Fill the settings left as None from the data; keep the given ones."""
    n_labels = len(set(labels))
    sized_here = bucket is None
    if bucket is None:
        if counter.n < 2:
            bucket = 0  # no word n-grams: fastText uses no buckets
        else:
            bucket = min(BUCKET_CEILING, max(BUCKET_FLOOR, BUCKET_PER_NGRAM * counter.distinct))
    if dim is None:
        dim = min(DIM_CEILING, max(DIM_FLOOR, DIM_PER_LABEL * n_labels))
    size = TaggerSize(bucket, dim, False, counter.distinct, len(counter.words), n_labels)
    if quantize is None:  # a bucket given by hand is a size asked for: kept plain
        quantize = sized_here and size.plain_bytes() > QUANTIZE_ABOVE_BYTES
    return TaggerSize(bucket, dim, quantize, counter.distinct, len(counter.words), n_labels)
