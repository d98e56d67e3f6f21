"""Apply one Stripe event to our payments, inside the caller's transaction (DESIGN §4).

What each event type does is the table in ``event_rules.py``. Statuses follow the
ordering rules of ``states.py``; attempts are recorded whatever the order; refunds follow
their own forward-only status. Events about PaymentIntents this service did not create
are acknowledged and left alone; a signed event that can never apply (``UnusableEvent``)
comes back "unusable", with the reason, before anything was written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.payments.event_common import EventResult
from service.payments.event_rules import dispatch, rule_for
from service.payments.ports import PaymentsTx
from service.payments.stripe_objects import UnusableEvent, parse_event


async def apply_event(tx: PaymentsTx, event: Mapping[str, Any]) -> EventResult:
    if rule_for(str(event["type"])) is None:
        return EventResult("ignored")
    try:
        return await dispatch(tx, parse_event(event))
    except UnusableEvent as exc:
        return EventResult("unusable", reason=str(exc))
