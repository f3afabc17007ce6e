"""The pure balancing of shard leases: fair shares, who gives up what, who takes what."""

from __future__ import annotations

from microservices.common.shard_balance import Balance, balance, fair_share, priority, ranked


def one_round(shards: int, holdings: dict[str, set[int]], owners: list[str]) -> None:
    """Each live owner in turn refreshes as `ShardLeases` does: gives up its extras, then
    takes free shards (held by nobody) in its order until it holds its share."""
    for me in owners:
        plan = balance(shards, holdings[me], owners, me)
        holdings[me] -= set(plan.release)
        taken = set().union(*holdings.values())
        free = [s for s in plan.candidates if s not in taken]
        holdings[me] |= set(free[: plan.room])


def test_fair_share_is_the_ceiling() -> None:
    assert [fair_share(4, n) for n in (0, 1, 2, 3, 4, 5)] == [4, 4, 2, 2, 1, 1]
    assert fair_share(5, 2) == 3


def test_priorities_are_fixed_and_differ_between_owners() -> None:
    assert ranked("a", range(4)) == [3, 2, 1, 0]
    assert ranked("b", range(4)) == [3, 1, 2, 0]
    assert priority("a", 1) == priority("a", 1) != priority("b", 1)


def test_a_lone_owner_takes_everything() -> None:
    assert balance(4, set(), ["a"], "a") == Balance(4, (), (3, 2, 1, 0), 4)
    # not yet announced: counts itself
    assert balance(4, set(), [], "a") == Balance(4, (), (3, 2, 1, 0), 4)


def test_four_shards_one_then_two_then_one_owner() -> None:
    holdings: dict[str, set[int]] = {"a": set(), "b": set()}
    one_round(4, holdings, ["a"])
    assert holdings == {"a": {0, 1, 2, 3}, "b": set()}
    # b joins: a keeps its two best (3, 2), gives up 0 and 1; b takes them in the same round
    assert balance(4, {0, 1, 2, 3}, ["a", "b"], "a") == Balance(2, (0, 1), (), 0)
    one_round(4, holdings, ["a", "b"])
    assert holdings == {"a": {2, 3}, "b": {0, 1}}
    one_round(4, holdings, ["a", "b"])  # stable
    assert holdings == {"a": {2, 3}, "b": {0, 1}}
    # b dies: its leases expire (free) and it drops out of the members; a takes them back
    holdings["b"] = set()
    assert balance(4, {2, 3}, ["a"], "a") == Balance(4, (), (1, 0), 2)
    one_round(4, holdings, ["a"])
    assert holdings["a"] == {0, 1, 2, 3}


def test_a_joiner_that_refreshes_first_gets_its_share_one_round_later() -> None:
    holdings: dict[str, set[int]] = {"a": {0, 1, 2, 3}, "b": set()}
    one_round(4, holdings, ["b", "a"])  # b finds nothing free, then a gives up 0 and 1
    assert holdings == {"a": {2, 3}, "b": set()}
    one_round(4, holdings, ["b", "a"])
    assert holdings == {"a": {2, 3}, "b": {0, 1}}


def test_five_shards_over_two_owners() -> None:
    assert balance(5, {0, 1, 2, 3, 4}, ["a", "b"], "a") == Balance(3, (0, 1), (), 0)
    holdings: dict[str, set[int]] = {"a": {0, 1, 2, 3, 4}, "b": set()}
    one_round(5, holdings, ["a", "b"])
    assert holdings == {"a": {2, 3, 4}, "b": {0, 1}}
    # b is under its share (3) but nothing is free: it tries, a keeps its 3
    assert balance(5, {0, 1}, ["a", "b"], "b") == Balance(3, (), (3, 4, 2), 1)
    one_round(5, holdings, ["a", "b"])
    assert holdings == {"a": {2, 3, 4}, "b": {0, 1}}


def test_an_owner_with_extras_gives_up_its_lowest_priority_ones() -> None:
    # b ranks 3, 1, 2, 0: holding all four among three owners (share 2) it keeps 3 and 1
    plan = balance(4, {0, 1, 2, 3}, ["a", "b", "c"], "b")
    assert plan == Balance(2, (0, 2), (), 0)
    # shards outside the range (a shrunk STREAM_SHARDS) are given up as well
    assert balance(2, {0, 1, 3}, ["b"], "b").release == (3,)
