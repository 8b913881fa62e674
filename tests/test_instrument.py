"""The pooled client's lighter HTTP path (``aws/instrument.py``): a request's urllib3 pool
found by its URL's origin, and botocore's per-URL parsing remembered, with urllib3's and
botocore's answers unchanged."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from urllib3 import PoolManager

from geuse_nb.aws import instrument
from geuse_nb.aws.instrument import ORIGINS_KEPT, _keyed, _remembered


def _keyed_manager(**kwargs: Any) -> Any:
    manager = PoolManager(**kwargs)
    manager._geuse_keys = {}
    manager._geuse_asking = threading.local()
    manager.__class__ = _keyed(type(manager))
    return manager


def test_a_url_gets_the_pool_urllib3_would_give_it() -> None:
    ours, theirs = _keyed_manager(), PoolManager()
    urls = ["http://127.0.0.1:8001/", "http://127.0.0.1:8001/?Action=X", "http://127.0.0.1:8002/",
            "https://ec2.eu-west-1.amazonaws.com/", "https://ec2.eu-west-1.amazonaws.com:443/a",
            "https://EC2.us-east-1.amazonaws.com/"]
    for url in urls:
        pool, plain = ours.connection_from_url(url), theirs.connection_from_url(url)
        assert (pool.scheme, pool.host, pool.port) == (plain.scheme, plain.host, plain.port)
        assert pool is ours.connection_from_url(url)  # remembered: the same pool again
    # one pool per endpoint, as urllib3 keys them (ports differ; the default port is 443)
    assert ours.connection_from_url(urls[0]) is ours.connection_from_url(urls[1])
    assert ours.connection_from_url(urls[0]) is not ours.connection_from_url(urls[2])
    assert ours.connection_from_url(urls[3]) is ours.connection_from_url(urls[4])
    assert len(ours.pools) == len(theirs.pools) == 4


def test_urllib3_still_keeps_evicts_and_clears_the_pools() -> None:
    manager = _keyed_manager(num_pools=2)
    a = manager.connection_from_url("http://127.0.0.1:8001/")
    b = manager.connection_from_url("http://127.0.0.1:8002/")
    assert manager.connection_from_url("http://127.0.0.1:8001/x") is a  # used last: kept
    c = manager.connection_from_url("http://127.0.0.1:8003/")  # evicts b, as urllib3 would
    assert set(manager.pools.keys()) == {k for k, _ in manager._geuse_keys.values()} - {
        manager._geuse_keys["http://127.0.0.1:8002"][0]}
    assert manager.connection_from_url("http://127.0.0.1:8003/") is c
    b2 = manager.connection_from_url("http://127.0.0.1:8002/")
    assert b2 is not b and (b2.host, b2.port) == ("127.0.0.1", 8002)  # a new pool
    manager.clear()
    a2 = manager.connection_from_url("http://127.0.0.1:8001/")
    assert a2 is not a and len(manager.pools) == 1


def test_pool_keywords_take_urllib3s_own_path() -> None:
    manager = _keyed_manager()
    plain = manager.connection_from_url("http://127.0.0.1:8001/")
    other = manager.connection_from_url("http://127.0.0.1:8001/", pool_kwargs={"maxsize": 3})
    assert other is not plain and other.pool.maxsize == 3  # a key of its own, as urllib3's
    assert list(manager._geuse_keys) == ["http://127.0.0.1:8001"]  # not remembered
    assert manager.connection_from_url("http://127.0.0.1:8001/") is plain


def test_many_origins_stay_bounded() -> None:
    manager = _keyed_manager(num_pools=ORIGINS_KEPT * 2)
    for port in range(ORIGINS_KEPT * 2):
        manager.connection_from_url(f"http://127.0.0.1:{9000 + port}/")
    assert len(manager._geuse_keys) <= ORIGINS_KEPT


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8001/", "http://127.0.0.1:8001", "http://h/a/b?x=1&y=2",
    "http://h/a;p?q", "https://s3.amazonaws.com/bucket/key%20x?versionId=1#frag",
    "http://h/?", "http://h?x"])
def test_remembered_answers_are_the_functions_answers(url: str) -> None:
    from botocore.httpsession import URLLib3Session

    session = URLLib3Session()
    path = _remembered(session._path_url)
    assert path(url) == session._path_url(url)
    assert path(url) == session._path_url(url)  # from memory the second time
    proxy = _remembered(session._proxy_config.proxy_url_for)
    assert proxy(url) == session._proxy_config.proxy_url_for(url)


def test_remembered_keeps_a_bounded_number_of_answers() -> None:
    seen: list[str] = []

    def of_url(url: str) -> str:
        seen.append(url)
        return url.upper()

    remembered = _remembered(of_url)
    for i in range(ORIGINS_KEPT * 3):
        assert remembered(f"http://h/{i}") == f"HTTP://H/{i}"
    assert remembered("http://h/0") == "HTTP://H/0"
    assert len(seen) == ORIGINS_KEPT * 3 + 1  # forgotten, asked again
    assert remembered("http://h/0") == "HTTP://H/0"
    assert len(seen) == ORIGINS_KEPT * 3 + 1  # and remembered again


def test_a_pooled_client_sends_through_the_keyed_manager(kit: Any) -> None:
    region = kit.sandbox.regions[0]
    client = kit.client("ec2", region)
    manager = client._endpoint.http_session._manager
    assert isinstance(manager, instrument._PoolByOrigin)
    for _ in range(3):
        client.describe_availability_zones()
    assert list(manager._geuse_keys) == [kit.backend.endpoint_url(region)]
    assert len(manager.pools) == 1
    stats = kit.pool.stats().set_index("region")
    assert stats.loc[region, "connections_opened"] >= 1
