"""Customers: create, retrieve, update, delete, list (filter by email)."""

from __future__ import annotations

from aiohttp import web

from . import objects
from .api import answer, emu, metadata, params, text
from .store import Obj, page

routes = web.RouteTableDef()


@routes.post("/v1/customers")
async def create(request: web.Request) -> web.Response:
    p = params(request)
    obj = objects.customer(text(p, "email"), text(p, "name"), metadata(p))
    obj["description"] = text(p, "description")
    obj["phone"] = text(p, "phone")
    emu(request).store.put(obj)
    emu(request).emit("customer.created", obj)
    return answer(request, obj)


def _deleted(ident: str) -> Obj:
    return {"id": ident, "object": "customer", "deleted": True}


@routes.get("/v1/customers/{id}")
async def retrieve(request: web.Request) -> web.Response:
    ident = request.match_info["id"]
    if emu(request).store.was_deleted(ident):  # Stripe still answers, marked deleted
        return answer(request, _deleted(ident))
    return answer(request, emu(request).store.get("customer", ident))


@routes.delete("/v1/customers/{id}")
async def delete(request: web.Request) -> web.Response:
    emulator = emu(request)
    obj = emulator.store.delete_for_good("customer", request.match_info["id"])
    # Its saved cards go with it (detached, not reusable), as at Stripe.
    for pm in emulator.store.newest_first("payment_method"):
        if pm["customer"] == obj["id"]:
            pm["customer"] = None
            emulator.store.mark_spent(pm["id"])
    emulator.emit("customer.deleted", obj)
    return answer(request, _deleted(obj["id"]))


@routes.post("/v1/customers/{id}")
async def update(request: web.Request) -> web.Response:
    p = params(request)
    obj = emu(request).store.get("customer", request.match_info["id"])
    for name in ("email", "name", "description", "phone"):
        if name in p:
            obj[name] = text(p, name)
    obj["metadata"] = metadata(p, obj["metadata"])
    emu(request).emit("customer.updated", obj)
    return answer(request, obj)


@routes.get("/v1/customers")
async def list_(request: web.Request) -> web.Response:
    p = params(request)
    email = text(p, "email")
    found = [
        c
        for c in emu(request).store.newest_first("customer")
        if email is None or c["email"] == email
    ]
    return answer(request, page(found, p, "/v1/customers"))
