"""GET /api/notifications, POST /api/notifications/{id}/retry and /metrics, on the app."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.keys import STORE
from tests.notifications.receiver import SECRET, Delivery, Receiver, receiving, wait_for
from tests.support.payments import add_payment, change
from tests.support.settings import TEST_API_KEY, make_settings

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
Client = TestClient[web.Request, web.Application]


async def _client(aiohttp_client: AiohttpClient, database_url: str, url: str) -> Client:
    settings = make_settings(
        database_url,
        merchant_webhook_urls=[url],
        merchant_webhook_secret=[SECRET],
        merchant_webhook_retry_schedule=[0.05],
        merchant_webhook_poll_seconds=0.1,
    )
    return await aiohttp_client(create_app(settings))


async def _list(client: Client, query: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/notifications?{query}", headers=AUTH)
    assert response.status == 200
    data: list[dict[str, Any]] = (await response.json())["data"]
    return data


async def test_list_filter_retry_and_metrics(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    async def refuse(_: Delivery) -> int:
        return 500

    async with receiving(Receiver(answer=refuse)) as receiver:
        client = await _client(aiohttp_client, database_url, receiver.url)
        store = client.app[STORE]
        payment = await add_payment(store)
        other = await add_payment(store)
        await change(store, payment, "succeeded")
        await wait_for(lambda: len(receiver.deliveries) == 6)  # 2 tries x 3 notifications

        failed = await _list(client, f"payment_id={payment.id}&status=failed")
        assert [(n["version"], n["type"]) for n in failed] == [
            (2, "payment.succeeded"),
            (1, "payment.created"),
        ]
        attempts = failed[0]["attempts"]
        assert [(a["http_status"], a["error"]) for a in attempts] == [(500, "HTTP 500")] * 2
        assert all(a["duration_ms"] >= 0 and a["at"] for a in attempts)
        assert failed[0]["endpoint_url"] == receiver.url
        assert await _list(client, f"payment_id={payment.id}&status=pending") == []
        assert {n["payment_id"] for n in await _list(client, "status=failed")} >= {
            str(payment.id),
            str(other.id),
        }

        metrics = await (await client.get("/metrics")).text()
        assert "paylive_notifications_failed_total 3.0" in metrics
        assert "paylive_notifications_retries_total 3.0" in metrics
        assert "paylive_notifications_oldest_pending_age_seconds" in metrics

        receiver.answer = _ok
        response = await client.post(f"/api/notifications/{failed[0]['id']}/retry", headers=AUTH)
        assert response.status == 200
        body = await response.json()
        assert (body["status"], body["attempts"][-1]["http_status"]) == ("pending", 500)
        await wait_for(lambda: len(receiver.delivered()) == 1)
    assert receiver.delivered()[0].webhook_id == failed[0]["webhook_id"]
    delivered = await _list(client, "status=delivered")
    assert [n["id"] for n in delivered] == [failed[0]["id"]]
    assert delivered[0]["finished_at"] is not None
    metrics = await (await client.get("/metrics")).text()
    assert "paylive_notifications_delivered_total 1.0" in metrics


async def _ok(_: Delivery) -> int:
    return 200


async def test_bad_requests_are_clear_4xx(aiohttp_client: AiohttpClient, database_url: str) -> None:
    async with receiving(Receiver()) as receiver:
        client = await _client(aiohttp_client, database_url, receiver.url)
        assert (await client.get("/api/notifications")).status == 401
        for query, field in (("payment_id=nope", "payment_id"), ("status=lost", "status")):
            response = await client.get(f"/api/notifications?{query}", headers=AUTH)
            assert response.status == 422
            error = (await response.json())["error"]
            assert (error["code"], error["details"]["field"]) == ("invalid_query", field)
        for missing in ("999999999", "abc"):
            response = await client.post(f"/api/notifications/{missing}/retry", headers=AUTH)
            assert response.status == 404
            assert (await response.json())["error"]["code"] == "notification_not_found"
