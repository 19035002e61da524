"""Use cases of the clinic (CLI today, web app later).

Every function takes an open SQLAlchemy ``Session`` (one unit of work, committed by the caller)
and the acting user (:class:`~spinecare.services.auth.Actor`); input arrives as pydantic
``*Create``/``*Update`` schemas and output leaves as ``*Public`` schemas. Errors:
``InputError``/``ValidationError`` (bad input), ``NotFoundError``, ``PermissionDeniedError``.
"""
