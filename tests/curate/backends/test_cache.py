from curate.backends import Completion, RequestCache


def test_cache_round_trip_and_no_duplicate_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    with RequestCache(path) as cache:
        cache.put("a", Completion("one", 3, 1))
        cache.put("a", Completion("again", 3, 1))  # a second answer is ignored
        cache.put("b", Completion("two"))
    assert len(path.read_text().splitlines()) == 2
    again = RequestCache(path)
    assert again.get("a") == Completion("one", 3, 1)
    assert "b" in again and len(again) == 2


def test_torn_last_line_is_dropped_and_appends_stay_valid(tmp_path):
    path = tmp_path / "c.jsonl"
    with RequestCache(path) as cache:
        cache.put("a", Completion("one"))
    with path.open("a") as fh:  # what a SIGKILL mid-write leaves
        fh.write('{"key": "b", "completion": {"te')
    with RequestCache(path) as cache:
        assert "a" in cache and "b" not in cache
        cache.put("c", Completion("three"))
    reread = RequestCache(path)
    assert sorted(reread._entries) == ["a", "c"]


def test_corrupt_middle_line_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"key": "a", "completion": {"text": "x"}}\nnot json\n')
    try:
        RequestCache(path)
    except ValueError as exc:
        assert "c.jsonl:2" in str(exc)
    else:
        raise AssertionError("a corrupt line must not pass silently")
