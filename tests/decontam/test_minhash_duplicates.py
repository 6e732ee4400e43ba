from decontam import choose_bands, minhash_duplicates


def test_near_duplicates_map_to_first_seen(pool_texts):
    base = pool_texts[:50]
    items = [(f"k{i}", t) for i, t in enumerate(base)]
    items.append(("dup-exact", base[3]))
    items.append(("dup-case", base[7].upper() + "  "))
    words = base[9].split()
    items.append(("dup-edit", " ".join(words[:-1])))  # one word dropped at the end
    dups = minhash_duplicates(items, threshold=0.8)
    assert dups["dup-exact"] == "k3"
    assert dups["dup-case"] == "k7"
    assert dups.get("dup-edit") == "k9" or len(words) < 25
    assert not any(k.startswith("k") for k in dups)


def test_unrelated_texts_are_not_duplicates(pool_texts):
    items = [(str(i), t) for i, t in enumerate(pool_texts)]
    dups = minhash_duplicates(items, threshold=0.8, batch_size=64)
    from decontam.minhash import jaccard, shingle_sets
    from decontam.tokenize import TokenBatch

    flat, off = shingle_sets(TokenBatch.from_texts(pool_texts), 5)
    for dup, kept in dups.items():
        a, b = int(dup), int(kept)
        assert a > b
        assert jaccard(flat[off[a] : off[a + 1]], flat[off[b] : off[b + 1]]) >= 0.8


def test_bands_favor_recall():
    bands, rows = choose_bands(0.7, 128)
    assert bands * rows <= 128
    assert 1 - (1 - 0.7**rows) ** bands >= 0.995
    assert 1 - (1 - 0.7 ** (rows + 1)) ** (128 // (rows + 1)) < 0.995
