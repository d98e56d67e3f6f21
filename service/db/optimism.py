"""What the query mixins of ``PaymentsRepo`` share about an optimistic repo
(``PaymentsRepo(optimistic=True)``, ``PgStore.optimistic``): which rows it has read, and
the refusal of what its one guarded statement cannot vouch for."""

from __future__ import annotations

from uuid import UUID

from service.payments.ports import ApplyUnderLock


class Optimism:
    # None: in a transaction. Optimistic: each payment read "for update", by its xmin.
    read_xmin: dict[UUID, int] | None = None

    def refuse_if_optimistic(self, what: str) -> None:
        """Before a write (or after a read) that only the payment's lock makes safe:
        ``ApplyUnderLock``, nothing written yet; the event goes to a transaction."""
        if self.read_xmin is not None:
            raise ApplyUnderLock(what)
