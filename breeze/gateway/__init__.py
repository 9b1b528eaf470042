"""The only code that talks to Breeze.

- :mod:`~breeze.gateway.sdk`: the one importer of ``breeze_connect``, its hazards neutralised;
  :mod:`~breeze.gateway.transport`: the pooled HTTP transport with a deadline it is given.
- :mod:`~breeze.gateway.client`: typed queries in, rows or typed errors
  (:mod:`~breeze.gateway.errors`) out.
- :mod:`~breeze.gateway.fetch`: the protected path every answer takes — cache and merging
  (:mod:`~breeze.gateway.flight`), the breaker (:mod:`~breeze.gateway.breaker`) and the fleet's
  budget (:mod:`~breeze.gateway.budget`).

It receives the live session's credentials as arguments; it never reads the session itself.
"""
