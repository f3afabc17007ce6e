"""Clock skew, NTP style (`data_collector/clock_skew.py`), with hand-worked numbers."""

from __future__ import annotations

import pytest

from microservices.data_collector.clock_skew import SkewEstimator, SkewSample, skew_sample

T0 = 1_700_000_000_000.0


def test_skew_is_server_time_minus_the_midpoint_of_send_and_receive() -> None:
    # sent at T0, answered at T0 + 40: midpoint T0 + 20; the venue said T0 + 1520
    assert skew_sample(T0, T0 + 40, T0 + 1_520) == SkewSample(1_500.0, 40.0, T0 + 40)
    # a venue 250 ms behind, 8 ms round trip: server T0 - 246 vs midpoint T0 + 4
    assert skew_sample(T0, T0 + 8, T0 - 246).skew_ms == -250.0
    # zero round trip: the server's time is exactly ours plus the skew
    assert skew_sample(T0, T0, T0 + 7.5) == SkewSample(7.5, 0.0, T0)


def test_the_true_skew_lies_within_half_the_round_trip() -> None:
    true_skew, send, rtt = 1_500.0, T0, 30.0
    for stamped_after in (0.0, 10.0, 30.0):  # the venue stamps anywhere within the trip
        sample = skew_sample(send, send + rtt, send + stamped_after + true_skew)
        assert abs(sample.skew_ms - true_skew) <= sample.rtt_ms / 2


def test_an_answer_before_the_request_is_refused() -> None:
    with pytest.raises(ValueError, match="before the request"):
        skew_sample(T0, T0 - 1, T0)


def test_estimator_answers_the_smallest_round_trip_of_the_last_few() -> None:
    estimator = SkewEstimator(keep=3)
    assert estimator.best() is None
    estimator.add(SkewSample(1_510.0, 40.0, T0))
    estimator.add(SkewSample(1_498.0, 4.0, T0 + 1))
    estimator.add(SkewSample(1_530.0, 90.0, T0 + 2))
    assert estimator.best() == SkewSample(1_498.0, 4.0, T0 + 1)
    estimator.add(SkewSample(1_502.0, 4.0, T0 + 3))  # a tie: the newer one wins
    assert estimator.best() == SkewSample(1_502.0, 4.0, T0 + 3)
    for i, rtt in enumerate((50.0, 60.0, 70.0)):  # the 4 ms samples leave the last 3
        estimator.add(SkewSample(1_520.0 + i, rtt, T0 + 4 + i))
    assert estimator.best() == SkewSample(1_520.0, 50.0, T0 + 4)
