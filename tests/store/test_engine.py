"""The engine's settings a clinic relies on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from spinecare.store import Store
from spinecare.store.audit import set_actor
from spinecare.store.models import User

SECRET = "$argon2id$v=19$m=65536,t=3,p=4$not-for-any-log"


def test_a_database_error_never_carries_the_values_it_was_given(store: Store) -> None:
    """A failed statement's text goes to logs and error lines: no password hash, no name."""

    def user() -> User:
        return User(
            username="twice", full_name="Erika Mustermann", role="therapist",
            password_hash=SECRET, active=True, must_change_password=False, failed_logins=0,
            created_at=datetime.now(UTC),
        )  # fmt: skip

    with store.session() as s:
        set_actor(s, "admin")
        s.add(user())
        s.commit()
        s.add(user())
        with pytest.raises(IntegrityError) as err:
            s.flush()
    text = str(err.value)
    assert "users" in text  # the statement is named
    assert SECRET not in text and "Erika" not in text
