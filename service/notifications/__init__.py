"""Merchant notifications (issue 16): which change notifies the merchant (``rules``, pure),
how a delivery is signed (``signing``) and what happens after an attempt (``schedule``),
and the delivery worker (``worker``, I/O)."""
