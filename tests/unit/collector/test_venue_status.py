"""VenueStatus: a venue is `connected` only while every connection is fed data within its
silence timeout; an open socket without data is `connecting`, then `silent` (what /health
turns into `degraded`); the last reconnect's short cause and wait are reported."""

from __future__ import annotations

from microservices.common.clock import now_ms
from microservices.data_collector.venue_status import VenueStatus

TIMEOUT_S = 30.0


def opened(*labels: str) -> tuple[VenueStatus, int]:
    """A status with `labels` of venue "bybit" registered and connected; (status, a time at or
    after every connect, in ms)."""
    status = VenueStatus()
    for label in labels:
        status.register(label, "bybit", TIMEOUT_S)
        status.connected(label)
    return status, now_ms()


def test_an_open_socket_is_connecting_until_data_then_connected() -> None:
    status, t0 = opened("bybit#0")
    assert status.summary(t0 + 500)["bybit"]["state"] == "connecting"
    status.frame("bybit#0", t0 + 600)
    item = status.summary(t0 + 700)["bybit"]
    assert (item["state"], item["live"], item["last_message_age_s"]) == ("connected", 1, 0.1)
    assert item["silence_timeout_s"] == TIMEOUT_S


def test_no_data_for_the_timeout_is_silent_though_the_socket_is_open() -> None:
    status, t0 = opened("bybit#0")
    assert status.summary(t0 + 30_000)["bybit"]["state"] == "silent"  # never any data
    status.frame("bybit#0", t0 + 1_000)
    assert status.summary(t0 + 30_999)["bybit"]["state"] == "connected"
    item = status.summary(t0 + 31_000)["bybit"]
    assert (item["state"], item["connected"], item["live"]) == ("silent", 1, 0)


def test_a_reconnect_reports_its_cause_and_a_reopened_silent_feed_stays_silent() -> None:
    status, t0 = opened("bybit#0")
    status.frame("bybit#0", t0 + 1_000)
    status.disconnected("bybit#0")
    status.reconnecting("bybit#0", "silent 30s", 4.5)
    item = status.summary(t0 + 31_000)["bybit"]
    assert (item["state"], item["last_cause"], item["retry_delay_s"]) == (
        "disconnected",
        "silent 30s",
        4.5,
    )
    assert item["reconnects"] == 1
    status.connected("bybit#0")  # the new socket brings no data either: still silent
    assert status.summary(t0 + 40_000)["bybit"]["state"] == "silent"


def test_one_live_connection_of_two_is_degraded() -> None:
    status, t0 = opened("bybit#0", "bybit#1")
    status.frame("bybit#0", t0 + 10)
    status.frame("bybit#1", t0 + 10)
    assert status.summary(t0 + 20)["bybit"]["state"] == "connected"
    status.frame("bybit#0", t0 + 40_000)
    item = status.summary(t0 + 40_001)["bybit"]
    assert (item["state"], item["live"], item["connections"]) == ("degraded", 1, 2)


def test_a_rotation_successor_keeps_the_connection_up() -> None:
    status, t0 = opened("bybit#0")
    status.frame("bybit#0", t0 + 10)
    status.connected("bybit#0")  # the rotation opened the next socket
    assert status.summary(t0 + 20)["bybit"]["state"] == "connected"
