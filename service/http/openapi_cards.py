"""The saved-card routes in the OpenAPI table's terms (a sibling of ``openapi_identity``)."""

from __future__ import annotations

from service.http.card_schemas import (
    PAYMENT_METHOD_PATTERN,
    CardPaidOut,
    PayWithCardIn,
    SavedCardListOut,
    SetupIntentOut,
)
from service.http.openapi_sessions import SESSION
from service.http.openapi_table import API_KEY, READ, Operation, Param

CARD_PATH_PARAMS: dict[str, Param] = {
    "external_id": Param(
        "external_id",
        "path",
        {"type": "string", "minLength": 1, "maxLength": 200},
        "Your id for the customer (customer.external_id).",
        required=True,
    ),
    "payment_method_id": Param(
        "payment_method_id",
        "path",
        {"type": "string", "pattern": PAYMENT_METHOD_PATTERN},
        "A saved card's Stripe PaymentMethod id; one that is not the caller's is 404.",
        required=True,
    ),
}

_STRIPE_ERRORS = (400, 401, 402, 403, 404, 409, 413, 422, 502, 503)

CARD_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/api/me/payment-methods",
        "list_my_cards",
        "The signed-in customer's saved cards, newest first, each card once",
        "payments",
        ok={200: SavedCardListOut},
        errors=(400, 401, 502, 503),
        security=SESSION,
        description="Expired and disabled cards are listed (`usable` false) but must not "
        "be offered; a disabled card's reason is the decline that disabled it.",
    ),
    Operation(
        "DELETE",
        "/api/me/payment-methods/{payment_method_id}",
        "remove_my_card",
        "Remove a saved card (detached at Stripe, with its duplicates)",
        "payments",
        ok={204: None},
        errors=(400, 401, 404, 502, 503),
        security=SESSION,
    ),
    Operation(
        "POST",
        "/api/me/setup-intents",
        "create_my_setup_intent",
        "Save a card without paying: a SetupIntent for stripe.confirmCardSetup",
        "payments",
        ok={201: SetupIntentOut},
        errors=(400, 401, 409, 422, 502, 503),
        security=SESSION,
    ),
    Operation(
        "GET",
        "/api/customers/{external_id}/payment-methods",
        "list_customer_cards",
        "A customer's saved cards (API key)",
        "payments",
        ok={200: SavedCardListOut},
        errors=(400, 401, 404, 502, 503),
        security=(API_KEY,),
    ),
    Operation(
        "POST",
        "/api/payments/{payment_id}/confirm",
        "pay_with_saved_card",
        "Pay with one of the payment's customer's saved cards",
        "payments",
        ok={200: CardPaidOut},
        errors=_STRIPE_ERRORS,
        request=PayWithCardIn,
        security=READ,
        description="By an API key or the payment's own customer (session token, or the "
        "status token of a payment with a customer). A declined card answers 200 with the "
        "decline, the next step and what it does to the card; `requires_action` carries the "
        "client_secret for stripe.handleNextAction. `off_session` (API key only): "
        "authentication_required brings the customer back on-session.",
    ),
)
