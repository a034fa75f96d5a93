"""Sticky top-N selection (pure function) and its state file."""

from __future__ import annotations

from exporters.database import topn


def test_first_choice_is_the_largest_with_name_ties():
    values = {"a": 10, "b": 30, "c": 20, "d": 20, "e": 1}
    assert topn.choose([], values, 3) == ["b", "c", "d"]
    assert topn.choose([], values, 10) == ["a", "b", "c", "d", "e"]
    assert topn.choose([], values, 0) == []


def test_members_stay_until_an_outsider_is_clearly_larger():
    members = ["a", "b"]
    assert topn.choose(members, {"a": 100, "b": 50, "c": 74}, 2) == ["a", "b"]  # < 1.5 x 50
    assert topn.choose(members, {"a": 100, "b": 50, "c": 76}, 2) == ["a", "c"]  # > 1.5 x 50
    # two outsiders far larger than both members replace both
    assert topn.choose(members, {"a": 1, "b": 2, "c": 90, "d": 80}, 2) == ["c", "d"]


def test_vanished_members_are_replaced_and_n_shrinks():
    assert topn.choose(["a", "b"], {"b": 5, "c": 3, "d": 4}, 2) == ["b", "d"]
    assert topn.choose(["a", "b", "c"], {"a": 1, "b": 3, "c": 2}, 2) == ["b", "c"]


def test_state_round_trip_and_bad_files(tmp_path):
    path = tmp_path / "sub" / "t.tables.json"
    topn.save(str(path), {"db": ["x", "y"]})
    assert topn.load(str(path)) == {"db": ["x", "y"]}
    path.write_text("{not json")
    assert topn.load(str(path)) == {}
    path.write_text("[1, 2]")
    assert topn.load(str(path)) == {}
    assert topn.load(str(tmp_path / "missing.json")) == {}
