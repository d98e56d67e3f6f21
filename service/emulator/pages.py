"""Hosted pages: Checkout's payment page and the 3-D Secure challenge (plain HTML forms)."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from aiohttp import web

from . import checkout, payment_methods, payments, setups
from .api import base_url, emu
from .errors import StripeError
from .payment_intents import CONFIRMABLE
from .store import Obj

routes = web.RouteTableDef()

TEST_CARDS = [
    ("4242424242424242", "Visa — succeeds"),
    ("4000002760003184", "3-D Secure required"),
    ("4000000000008880", "Processing, then succeeds (emulator)"),
    ("4000000000007775", "Processing, then declined (emulator)"),
    ("4000000000000002", "Declined — generic_decline"),
    ("4000000000009995", "Declined — insufficient_funds"),
    ("4000000000009987", "Declined — lost_card"),
    ("4000000000009979", "Declined — stolen_card"),
    ("4000000000000069", "Declined — expired_card"),
    ("4000000000000127", "Declined — incorrect_cvc"),
    ("4000000000000119", "Declined — processing_error"),
    ("4100000000000019", "Blocked — fraudulent"),
]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem}"
    "label{display:block;margin:.6rem 0}input,select{width:100%;padding:.4rem}"
    "button{padding:.6rem 1.2rem;margin:.6rem .4rem 0 0}.error{color:#b00020}"
)


_ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
_THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])


def _money(amount: int, currency: str) -> str:
    """Minor units as a person reads them: 2500 eur -> 25.00 EUR."""
    cur = currency.lower()
    digits = 0 if cur in _ZERO_DECIMAL else 3 if cur in _THREE_DECIMAL else 2
    return f"{amount / 10**digits:.{digits}f} {cur.upper()}"


def _html(title: str, body: str, status: int = 200) -> web.Response:
    doc = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=doc, status=status, content_type="text/html")


def _checkout_page(request: web.Request, session: Obj, error: str | None = None) -> web.Response:
    if session["status"] != "open":
        return _html(
            "Checkout", f"<p>This Checkout Session is {escape(session['status'])}.</p>", 410
        )
    items = emu(request).store.line_items(session["id"])
    rows = "".join(
        f"<li>{escape(i['description'])} x {i['quantity']}: "
        f"{escape(_money(i['amount_total'], i['currency']))}</li>"
        for i in items
    )
    options = "".join(
        f"<option value='{n}'>{n} — {escape(label)}</option>" for n, label in TEST_CARDS
    )
    email = escape(session["customer_email"] or "")
    cancel = session["cancel_url"]
    body = (
        f"<ul>{rows}</ul><p>Total: <strong>"
        f"{escape(_money(session['amount_total'], str(session['currency'])))}</strong></p>"
        + (f"<p class='error' role='alert'>{escape(error)}</p>" if error else "")
        + f"<form method='post' action='/c/pay/{session['id']}'>"
        f"<label>Email <input name='email' type='email' value='{email}'></label>"
        "<label>Name on card <input name='name'></label>"
        f"<label>Test card <select name='card'>{options}</select></label>"
        "<label>Or card number <input name='number' inputmode='numeric'></label>"
        "<label>Expiry (MM/YY) <input name='exp' value='12/34'></label>"
        "<label>CVC <input name='cvc' value='123'></label>"
        "<button type='submit'>Pay</button></form>"
        + (f"<p><a href='{escape(cancel)}'>Cancel and return</a></p>" if cancel else "")
    )
    return _html("Checkout", body, 402 if error else 200)


def _after_payment(request: web.Request, session: Obj, pi: Obj) -> web.Response:
    if session["status"] == "complete":
        if session["success_url"]:
            raise web.HTTPSeeOther(session["success_url"])
        return _html("Payment complete", "<p>Thank you.</p>")
    if pi["status"] == "requires_action":
        raise web.HTTPSeeOther(pi["next_action"]["redirect_to_url"]["url"])
    error = pi["last_payment_error"] or {}
    return _checkout_page(request, session, str(error.get("message") or "Payment failed."))


def _session(request: web.Request) -> Obj:
    try:
        return emu(request).store.get("checkout.session", request.match_info["id"])
    except StripeError:
        raise web.HTTPNotFound(text="No such Checkout Session") from None


@routes.get("/c/pay/{id}")
async def checkout_page(request: web.Request) -> web.Response:
    return _checkout_page(request, _session(request))


@routes.post("/c/pay/{id}")
async def checkout_pay(request: web.Request) -> web.Response:
    form = await request.post()
    # Everything below runs without awaiting, so a double-submitted form pays once.
    session = _session(request)
    emulator = emu(request)
    paid = session["payment_intent"] and emulator.store.get(
        "payment_intent", str(session["payment_intent"])
    )
    if session["status"] != "open" or (paid and paid["status"] not in CONFIRMABLE):
        return _checkout_page(request, session)
    number = str(form.get("number") or form.get("card") or "").replace(" ", "")
    month, _, year = str(form.get("exp") or "").partition("/")
    details = {
        "email": str(form.get("email") or "") or None,
        "name": str(form.get("name") or "") or None,
    }
    card = {
        "number": number,
        "exp_month": month.strip(),
        "exp_year": year.strip(),
        "cvc": str(form.get("cvc") or ""),
    }
    try:
        pm, full_number = payment_methods.from_card(card, details, {})
    except StripeError as exc:
        return _checkout_page(request, session, exc.message)
    payment_methods.save(emulator, pm, full_number)
    pi = checkout.payment_intent_for(emulator, session)
    session["customer_details"] = {
        "address": None,
        "email": details["email"],
        "name": details["name"],
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }
    emulator.store.set_return_url(pi["id"], f"{base_url(request)}/c/pay/{session['id']}/return")
    payments.confirm(emulator, pi, pm, base_url(request))
    return _after_payment(request, session, pi)


@routes.get("/c/pay/{id}/return")
async def checkout_return(request: web.Request) -> web.Response:
    session = _session(request)
    pi = emu(request).store.get("payment_intent", str(session["payment_intent"]))
    return _after_payment(request, session, pi)


def _challenged(request: web.Request, secret: str) -> Obj:
    """The Payment- or SetupIntent waiting for this challenge."""
    ident = request.match_info["id"]
    kind = "setup_intent" if ident.startswith("seti_") else "payment_intent"
    intent = emu(request).store.find(kind, ident)
    if intent is None or secret != intent["client_secret"]:
        raise web.HTTPNotFound(text="Unknown authentication request")
    return intent


@routes.get("/3ds/{id}")
async def challenge(request: web.Request) -> web.Response:
    secret = request.query.get("client_secret", "")
    pi = _challenged(request, secret)
    if pi["status"] != "requires_action":
        return _html("3-D Secure", "<p>This authentication is no longer pending.</p>", 409)
    forms = "".join(
        f"<form method='post' action='/3ds/{pi['id']}/{outcome}' style='display:inline'>"
        f"<input type='hidden' name='client_secret' value='{escape(secret)}'>"
        f"<button type='submit' id='{outcome}'>{label}</button></form>"
        for outcome, label in (
            ("complete", "Complete authentication"),
            ("fail", "Fail authentication"),
        )
    )
    if pi["object"] == "setup_intent":
        what = "saving this card for later payments"
    else:
        what = "a payment of " + escape(_money(int(pi["amount"]), str(pi["currency"])))
    return _html("3-D Secure 2 test page", f"<p>Authorize {what}.</p>{forms}")


@routes.post("/3ds/{id}/{outcome:complete|fail}")
async def challenge_answer(request: web.Request) -> web.Response:
    form = await request.post()
    pi = _challenged(request, str(form.get("client_secret") or ""))
    if pi["status"] != "requires_action":
        return _html("3-D Secure", "<p>This authentication is no longer pending.</p>", 409)
    emulator = emu(request)
    success = request.match_info["outcome"] == "complete"
    setup = pi["object"] == "setup_intent"
    (setups.authenticate if setup else payments.authenticate)(emulator, pi, success)
    return_url = emulator.store.return_url(pi["id"])
    status = "succeeded" if success else "failed"
    if return_url:
        name = "setup_intent" if setup else "payment_intent"
        query = urlencode(
            {
                name: pi["id"],
                f"{name}_client_secret": pi["client_secret"],
                "redirect_status": status,
            }
        )
        raise web.HTTPSeeOther(f"{return_url}{'&' if '?' in return_url else '?'}{query}")
    # Opened by the Stripe.js shim in an iframe or popup: tell it we are done.
    script = (
        "<script>var m={type:'paylive-emulator-3ds',status:'" + status + "'};"
        "if(window.opener){window.opener.postMessage(m,'*')}"
        "if(window.parent!==window){window.parent.postMessage(m,'*')}</script>"
    )
    return _html("Authentication " + ("complete" if success else "failed"), script)
