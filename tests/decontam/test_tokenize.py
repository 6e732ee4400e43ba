from decontam import normalize_text, token_spans, tokens


def test_rule():
    assert tokens("Hello, World! x=3+4; don't") == [
        "hello",
        "world",
        "x",
        "=",
        "3",
        "+",
        "4",
        "don",
        "t",
    ]
    assert tokens("a<=b^2 % 5 - 1 / 2 * 3") == [
        "a",
        "<",
        "=",
        "b",
        "^",
        "2",
        "%",
        "5",
        "-",
        "1",
        "/",
        "2",
        "*",
        "3",
    ]
    # non-ASCII punctuation separates (dashes become "-"), non-ASCII letters stay in words
    assert tokens("“École” — naïve…İ") == ["école", "-", "naïve", "i"]
    assert tokens("3.14 and 1,000") == ["3", "14", "and", "1", "000"]


def test_spans_point_into_original_text():
    text = "Say “HELLO”, İzmir!"
    for word, start, end in token_spans(text):
        assert text[start:end].lower().replace("i̇", "i") in (word, word.upper().lower())
        assert len(text[start:end]) == len(word)


def test_normalize_text():
    assert normalize_text("  Hello\n\tWORLD  ") == "hello world"
