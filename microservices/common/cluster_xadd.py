"""Batch XADD on a Redis Cluster: the batches of `batch_xadd`, grouped by the node that serves
each stream's slot, each node's batches sent in one write on one of its connections.

A stream key lives in one slot, so a batch (one stream) goes to one node, and the batches of
one stream keep their order (one node, one connection, one write). The nodes are written
concurrently. Replies that ran nothing are sent again, so they cannot duplicate entries:
- MOVED (the slot has a new owner): the client's slot table is patched, the batch goes to
  the new owner;
- ASK (the slot is migrating): the batch goes to the target node after `ASKING`;
- NOSCRIPT (a restarted or new node): the script is loaded on that node, the batch resent.
A connection error or timeout closes that connection, asks the client to refresh its slot
table before its next command, and is raised: the producer writes the whole batch again
after its backoff (at least once, as on one node).
"""

from __future__ import annotations

import asyncio
import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

import redis.exceptions as rex
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.cluster import PRIMARY
from redis.crc import key_slot

if TYPE_CHECKING:  # batch_xadd imports this module
    from microservices.common.batch_xadd import StreamBatch

MAX_ROUNDS: Final = 5  # sends of one batch (redirects and script loads) before giving up
ASKING: Final = b"*1\r\n$6\r\nASKING\r\n"
# (batch, node it was redirected to by ASK, or None: the node that serves its slot)
Item = tuple["StreamBatch", ClusterNode | None]
BROKEN: Final = (rex.ConnectionError, rex.TimeoutError, ConnectionError, TimeoutError, OSError)


@lru_cache(maxsize=4096)
def stream_slot(name: str) -> int:
    """The cluster slot of a stream key (hash tag aware)."""
    return key_slot(name.encode())


async def write_cluster(
    redis: RedisCluster, batches: list[StreamBatch], timeout_s: float | None, script: str
) -> None:
    """Write every batch on the node of its stream (`script`: the batch script's text, loaded
    on a node that answers NOSCRIPT); raise on any error reply."""
    items: list[Item] = [(batch, None) for batch in batches]
    for _ in range(MAX_ROUNDS):
        await redis.initialize()  # returns at once unless a refresh was asked for
        by_node = _group_by_node(redis, items)
        results = await asyncio.gather(
            *(_send(redis, node, sent, timeout_s, script) for node, sent in by_node.items()),
            return_exceptions=True,
        )
        items = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            items.extend(result)
        if not items:
            return
    raise rex.ClusterError(f"batch XADD still redirected after {MAX_ROUNDS} sends")


def _group_by_node(redis: RedisCluster, items: list[Item]) -> dict[ClusterNode, list[Item]]:
    """Items per target node, in their order (a stream's batches stay in sequence)."""
    nodes = redis.nodes_manager
    by_node: dict[ClusterNode, list[Item]] = {}
    for item in items:
        node = item[1] or nodes.get_node_from_slot(stream_slot(item[0].name))
        by_node.setdefault(node, []).append(item)
    return by_node


async def _send(
    redis: RedisCluster, node: ClusterNode, items: list[Item], timeout_s: float | None, script: str
) -> list[Item]:
    """One write of `items` to `node`; returns the items to send again."""
    conn: Any = node.acquire_connection()
    again: list[Item] = []
    error: rex.ResponseError | None = None
    try:
        await node.disconnect_if_needed(conn)
        await conn.send_packed_command(b"".join(_packed(item) for item in items))
        async with asyncio.timeout(timeout_s):  # one deadline for all replies of the write
            for item in items:
                try:
                    if item[1] is not None:
                        await conn.read_response(timeout=math.inf)  # ASKING's OK
                    await conn.read_response(timeout=math.inf)
                except rex.ResponseError as exc:
                    redirect = await _redirect(redis, node, item, exc, script)
                    if redirect is None:
                        error = error or exc
                    else:
                        again.append(redirect)
    except BaseException as exc:
        await conn.disconnect(nowait=True)
        if isinstance(exc, BROKEN):
            redis._request_refresh(last_failed_node_name=node.name)
        raise
    finally:
        node.release(conn)
    if error is not None:
        raise error
    return again


def _packed(item: Item) -> bytes:
    return ASKING + item[0].encode() if item[1] is not None else item[0].encode()


async def _redirect(
    redis: RedisCluster, node: ClusterNode, item: Item, exc: rex.ResponseError, script: str
) -> Item | None:
    """Where to send an item whose reply ran nothing; None for any other error reply."""
    if isinstance(exc, rex.MovedError):  # before AskError: MovedError subclasses it
        await redis.nodes_manager.move_slot(exc)
        return (item[0], None)
    if isinstance(exc, rex.AskError):
        nodes = redis.nodes_manager
        host, port = nodes.remap_host_port(exc.host, exc.port)
        target = redis.get_node(host=host, port=port)
        if target is None:  # a node the client does not know yet (the slot table is kept)
            target = ClusterNode(host, port, PRIMARY, **nodes.connection_kwargs)
            nodes.set_nodes(nodes.nodes_cache, {target.name: target})
        return (item[0], target)
    if isinstance(exc, rex.NoScriptError):
        await node.execute_command("SCRIPT", "LOAD", script)
        return (item[0], item[1])
    if isinstance(exc, rex.ClusterDownError):  # a failover: the next write uses a new table
        redis._request_refresh(last_failed_node_name=node.name)
    return None
