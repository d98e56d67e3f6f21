"""Every URL the service answers, in one list."""

from __future__ import annotations

from aiohttp import web

from service import demo_theatre as theatre
from service.http import (
    abandon,
    clerk_webhooks,
    demo,
    health,
    me,
    notifications,
    openapi,
    payments,
    saved_cards,
    webhooks,
)
from service.http.client_js import ClientScripts
from service.http.openapi_table import OPENAPI_PATH
from service.keys import METRICS, SETTINGS
from service.realtime import sse, ws


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", app[METRICS].handle)
    app.router.add_get(OPENAPI_PATH, openapi.openapi_json)
    app.router.add_post("/api/payment-intents", payments.create_payment_intent)
    app.router.add_post("/api/checkout-sessions", payments.create_checkout_session)
    app.router.add_get("/api/payments", payments.list_payments)
    app.router.add_get("/api/payments/{payment_id}", payments.get_payment)
    app.router.add_get("/api/payments/{payment_id}/attempts", payments.get_attempts)
    app.router.add_get("/api/payments/{payment_id}/timeline", payments.get_timeline)
    app.router.add_post("/api/payments/{payment_id}/cancel", payments.cancel)
    app.router.add_post("/api/payments/{payment_id}/refunds", payments.refund)
    app.router.add_post("/api/payments/{payment_id}/abandon", abandon.abandon)
    app.router.add_get("/api/payments/{payment_id}/stream", sse.stream)
    app.router.add_get("/api/notifications", notifications.list_notifications)
    app.router.add_post(
        "/api/notifications/{notification_id}/retry", notifications.retry_notification
    )
    app.router.add_post("/webhooks/stripe", webhooks.stripe_webhook)
    app.router.add_post("/webhooks/clerk", clerk_webhooks.clerk_webhook)
    app.router.add_get("/api/me", me.me)
    app.router.add_get("/api/me/payments", me.my_payments)
    app.router.add_get("/api/me/payment-methods", saved_cards.my_cards)
    app.router.add_delete("/api/me/payment-methods/{payment_method_id}", saved_cards.remove_my_card)
    app.router.add_post("/api/me/setup-intents", saved_cards.create_setup_intent)
    app.router.add_get("/api/customers/{external_id}/payment-methods", saved_cards.customer_cards)
    app.router.add_post("/api/payments/{payment_id}/confirm", saved_cards.confirm_with_card)
    app.router.add_get("/ws", ws.websocket)
    scripts = ClientScripts.load()  # read and hashed once, here
    app.router.add_get("/paylive.js", scripts.javascript.handle)
    app.router.add_get("/paylive.d.ts", scripts.types.handle)
    if app[SETTINGS].demo_page:
        app.router.add_get("/", demo.index)
        app.router.add_get("/checkout/return", demo.checkout_return)
        app.router.add_get("/bookings", demo.my_bookings)
        app.router.add_get("/favicon.ico", demo.favicon)
        app.router.add_get("/demo/config.json", demo.config)
        app.router.add_get("/examples/minimal.html", demo.minimal_example)
        app.router.add_static("/static/", demo.WEB_DIR, append_version=True)
        if app[SETTINGS].merchant_webhook_secret:  # the theatre's backend (issue 16)
            secret = app[SETTINGS].merchant_webhook_secret[0].get_secret_value()
            app.add_subapp(theatre.PREFIX, theatre.theatre_app(secret))
