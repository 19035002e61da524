"""Two requests at once (a double click, two tabs, two users) on SQLite and PostgreSQL: each use
case's checks and its writes see the same database, so the second one reads what the first
wrote (``services._common.act_as``).

Each test widens the window between a use case's check and its write (the check sleeps after
it has read), so that without the lock every thread passes the check.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from spinecare.errors import InputError
from spinecare.services import courses as course_svc
from spinecare.services import invoices as invoice_svc
from spinecare.services import users as user_svc
from spinecare.services.auth import Actor
from spinecare.services.courses import CoursePlan, plan_course
from spinecare.services.errors import PermissionDeniedError
from spinecare.services.users import UserCreate, create_user, set_active
from spinecare.store import Store
from spinecare.store.audit import AuditedSession, verify_chain
from spinecare.store.billing_models import Invoice
from spinecare.store.enums import Role
from spinecare.store.models import TreatmentSession, User

from .conftest import PASSWORD, next_weekday
from .test_invoices import _course
from .test_screening_courses import _complete_screening

T = TypeVar("T")
THREADS = 4
WINDOW_S = 0.3


def _slow(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn``, then a pause: the window in which another request would pass the same check."""

    def wrapper(*args: Any, **kwargs: Any) -> T:
        out = fn(*args, **kwargs)
        time.sleep(WINDOW_S)
        return out

    return wrapper


def _at_once(store: Store, work: Callable[[AuditedSession], object]) -> list[object]:
    """Run ``work`` in THREADS units of work started together; their results or errors."""
    start = threading.Barrier(THREADS)

    def one(_: int) -> object:
        start.wait()
        try:
            with store.unit_of_work() as s:
                return work(s)
        except (InputError, PermissionDeniedError) as exc:
            return exc

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def test_a_double_click_bills_a_session_once(
    store: Store,
    db: AuditedSession,
    actors: dict[Role, Actor],
    patient_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    course = _course(db, patient_id, done=2)
    monkeypatch.setattr(invoice_svc, "_billed_session_ids", _slow(invoice_svc._billed_session_ids))
    out = _at_once(
        store,
        lambda s: (
            invoice_svc.create_invoice(s, actors[Role.BILLING], patient_id, course_id=course.id).id
        ),
    )
    made = [o for o in out if isinstance(o, int)]
    refused = [o for o in out if isinstance(o, InputError)]
    assert len(made) == 1 and len(refused) == THREADS - 1, out
    assert all("no treated, unbilled" in e.reason for e in refused)
    with store.session() as s:
        assert s.scalars(select(Invoice.id)).all() == made
        assert verify_chain(s).broken_at is None


def test_courses_planned_at_once_never_book_the_table_twice(
    store: Store,
    db: AuditedSession,
    actors: dict[Role, Actor],
    patient_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _complete_screening(db, actors[Role.THERAPIST], patient_id)
    db.commit()
    plan = CoursePlan(
        patient_id=patient_id, region="lumbar", segment="L4/5", sessions=15, per_week=2,
        start=next_weekday(0),
    )  # fmt: skip
    monkeypatch.setattr(course_svc, "_busy_local", _slow(course_svc._busy_local))
    out = _at_once(store, lambda s: plan_course(s, actors[Role.PHYSICIAN], plan).id)
    assert all(isinstance(o, int) for o in out), out
    with store.session() as s:
        slots = sorted(
            (r.scheduled_start, r.scheduled_end) for r in s.scalars(select(TreatmentSession)).all()
        )
    assert len(slots) == THREADS * 15
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(slots))


def test_a_double_submitted_user_form_makes_one_user_and_a_clear_refusal(
    store: Store, actors: dict[Role, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    # between the "is the name taken?" check and the insert: hashing the password
    monkeypatch.setattr(user_svc, "_hasher", _SlowHasher(user_svc._hasher))
    data = UserCreate(username="race1", role=Role.THERAPIST, password=SecretStr(PASSWORD))
    out = _at_once(store, lambda s: create_user(s, actors[Role.ADMIN], data).id)
    made = [o for o in out if isinstance(o, int)]
    refused = [o for o in out if isinstance(o, InputError)]
    assert len(made) == 1 and len(refused) == THREADS - 1, out
    assert all(e.field == "username" and "taken" in e.reason for e in refused)


class _SlowHasher:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def hash(self, password: str) -> str:
        out: str = self.inner.hash(password)
        time.sleep(WINDOW_S)
        return out


def test_two_admins_deactivating_each_other_at_once_leave_one_admin(
    store: Store, db: AuditedSession, actors: dict[Role, Actor]
) -> None:
    """Both were authenticated before either change: the one that comes second is refused,
    whichever it is, because its own account is no longer active."""
    admin = actors[Role.ADMIN]
    other = create_user(
        db, admin, UserCreate(username="ad2", role=Role.ADMIN, password=SecretStr(PASSWORD))
    )
    db.commit()
    ad2 = Actor(other.id, other.username, Role.ADMIN)
    pairs = [(admin, other.id), (ad2, admin.id)]
    start = threading.Barrier(2)

    def one(pair: tuple[Actor, int]) -> object:
        start.wait()
        try:
            with store.unit_of_work() as s:
                return set_active(s, pair[0], pair[1], active=False)
        except PermissionDeniedError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=2) as pool:
        out = list(pool.map(one, pairs))
    refused = [o for o in out if isinstance(o, PermissionDeniedError)]
    assert len(refused) == 1 and "deactivated" in str(refused[0]), out
    with store.session() as s:
        active = s.scalars(select(User.username).where(User.role == "admin", User.active)).all()
    assert len(active) == 1
