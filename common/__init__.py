"""Conventions every app shares that are not about Breeze: strict request serializers and the
error envelope in the OpenAPI schema (:mod:`common.serializers`, :mod:`common.schema`), JSON
responses for errors raised outside DRF (:mod:`common.responses`), JSON log lines with request
ids (:mod:`common.json_logging`), and the caller's address (:mod:`common.network`)."""
