"""Historical candles without Breeze's 1000-candle wall: paging, the candle store, streaming.

- :mod:`~market.history.paging`: which Breeze-sized windows a range still needs.
- :mod:`~market.history.store`: closed candles and the ranges known complete, shared by the fleet.
- :mod:`~market.history.service`: a request served from the store plus the windows it lacks.
- :mod:`~market.history.streaming`: the answer as JSON or CSV, streamed row by row.
"""
