"""Alembic environment and revision scripts (run through ``spinecare.store.migrate``)."""
