"""The Breeze service layer: everything the proxy knows about Breeze that is not about Django apps.

It imports no Django app (``lint-imports`` enforces this): the apps above it pass what it needs
as arguments — the live session's credentials, typed queries — and get typed answers and typed
errors back.

- :mod:`breeze.clock` and :mod:`breeze.calendar`: IST, midnight expiry, trading days.
- :mod:`breeze.operations`: the :class:`~breeze.operations.Operation` enum and one frozen query
  type per operation, the only shape in which a request travels below the serializers.
- :mod:`breeze.errors`: the error family every failure of the proxy belongs to.
- :mod:`breeze.store`: the shared store (Django's cache: Redis, or local memory) in round trips.
- :mod:`breeze.gateway`: the only code that talks to Breeze.
"""
