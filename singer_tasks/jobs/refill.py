"""The monthly refill as a sweep step: `python -m taskkit sweep` (Cloud Scheduler in production) tops
up every user not yet refilled this month to their plan's allowance (`plans.refill`).

Registered on the service's `kit` when imported; the worker imports it through
`singer_tasks.render.tasks`. Torch-free.
"""

from __future__ import annotations

import time

import structlog

from singer_tasks.jobs.ledger import AccountNotFound
from singer_tasks.jobs.plans import month_of, refill, users_to_refill
from singer_tasks.kit import kit
from singer_tasks.settings import get_settings
from taskkit import Kit

__all__ = ["BATCH", "refill_monthly_allowances"]

# Users refilled per sweep at most; the next sweeps take the rest.
BATCH = 500

log = structlog.get_logger(__name__)


@kit.reconciler
def refill_monthly_allowances(k: Kit) -> int:
    """Refill up to BATCH users whose last refill is older than this month; returns how many were refilled."""
    settings = get_settings()
    now = time.time()
    done = 0
    for uid in users_to_refill(k.documents, month_of(now), limit=BATCH):
        try:
            if refill(k.documents, uid, settings, now=now) is not None:
                done += 1
        except AccountNotFound:  # deleted between the query and the refill
            log.info("refill.user_gone", uid=uid)
    return done
