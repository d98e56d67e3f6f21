"""``REALTIME_BROKER`` → the broker this process fans out through."""

from __future__ import annotations

from service.config import Settings
from service.db.pool import Pool
from service.realtime.brokers.catch_up import WatermarkCatchUp
from service.realtime.brokers.port import Broker
from service.realtime.brokers.postgres_broker import PostgresBroker
from service.realtime.hub import Hub

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
NATS_SCHEMES = ("nats://", "tls://")


def uses_notify(settings: Settings) -> bool:
    """True when changes are NOTIFYed in their transaction (the postgres broker)."""
    return settings.realtime_broker == "postgres"


def make_broker(settings: Settings, hub: Hub, pool: Pool) -> Broker:
    """The broker, wired to the hub (its messages go to ``hub.publish``)."""
    url = settings.realtime_broker
    if uses_notify(settings):
        dsn = settings.listen_database_url or settings.database_url
        assert dsn is not None
        return PostgresBroker(
            dsn,
            hub,
            probe_every=settings.listener_probe_seconds,
            catch_up_every=settings.catch_up_seconds,
        )
    # Imported here: redis and nats-py cost ~0.9 s of start-up a postgres-broker process
    # never needs.
    from service.realtime.brokers.nats_broker import NatsBroker
    from service.realtime.brokers.redis_broker import RedisBroker

    catch_up = WatermarkCatchUp(pool, hub)
    broker: RedisBroker | NatsBroker
    if url.startswith(REDIS_SCHEMES):
        broker = RedisBroker(
            url,
            hub,
            catch_up,
            probe_every=settings.listener_probe_seconds,
            catch_up_every=settings.catch_up_seconds,
        )
    else:
        broker = NatsBroker(
            url,
            hub,
            catch_up,
            probe_every=settings.listener_probe_seconds,
            catch_up_every=settings.catch_up_seconds,
        )
    hub.interest = broker
    return broker
