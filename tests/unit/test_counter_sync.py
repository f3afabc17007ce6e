from microservices.common.counter_sync import CounterSync


def test_only_what_is_new_is_exported_per_key() -> None:
    sync = CounterSync()
    assert [sync.delta("a", n) for n in (3, 3, 7)] == [3, 0, 4]
    assert sync.delta("b", 2) == 2
    assert sync.delta("a", 1) == 1  # a replaced counter (a new connection's parser) restarts
