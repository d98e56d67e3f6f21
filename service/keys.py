"""Every typed application key, in one place."""

from __future__ import annotations

from aiohttp import web

from service.config import Settings
from service.db.pool import Pool
from service.db.store import PgStore
from service.http.auth import AuthConfig
from service.http.metrics import METRICS as METRICS  # defined there: no import cycle
from service.http.webhook_stats import WebhookStats
from service.identity.sync_user import CustomerDirectory
from service.identity.verifier import SessionVerifier
from service.notifications.port import Delivery
from service.payments.ports import PaymentGateway
from service.payments.saved_cards import CardGateway
from service.realtime.brokers.port import Broker
from service.realtime.hub import Hub
from service.realtime.limits import ConnectionLimits
from service.realtime.listener import PgListener

SETTINGS = web.AppKey("settings", Settings)
DB_POOL = web.AppKey("db_pool", Pool)
STORE = web.AppKey("store", PgStore)
GATEWAY = web.AppKey[PaymentGateway]("gateway")
CUSTOMER_DIRECTORY = web.AppKey[CustomerDirectory]("customer_directory")  # the gateway too
CARD_GATEWAY = web.AppKey[CardGateway]("card_gateway")  # the gateway too (saved cards)
AUTH = web.AppKey("auth", AuthConfig)
WEBHOOK_STATS = web.AppKey("webhook_stats", WebhookStats)
HUB = web.AppKey("hub", Hub)
LISTENER = web.AppKey("listener", PgListener)  # set with the postgres broker only
BROKER = web.AppKey[Broker]("broker")
SESSION_VERIFIER = web.AppKey("session_verifier", SessionVerifier)  # set when configured
CONNECTION_LIMITS = web.AppKey("connection_limits", ConnectionLimits)
DELIVERY = web.AppKey[Delivery]("delivery")  # with MERCHANT_WEBHOOK_URLS, unless "off"

OPENAPI_DOCUMENT = web.AppKey("openapi_document", bytes)  # built once, served as is

# What a handler wants on its request's access-log line (one line per request, not two).
LOG_FIELDS = web.RequestKey[dict[str, object]]("log_fields")
