"""A faithful local simulator of ICICI Direct's Breeze REST API (standard library only).

The unmodified ``breeze_connect`` SDK works against it over real HTTP: customerdetails, quotes,
historicalcharts (v1 and v2), optionchain and SecurityMaster.zip, with Breeze's envelopes, error
strings, checksum and session checks, rate limits and injectable faults. See ``server.py`` for
the routes and the control API.
"""

from .server import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer

__all__ = ["DEFAULT_API_KEY", "DEFAULT_API_SECRET", "SimulatorServer"]
