"""How keys are kept: only a peppered digest in the database, lookups from the cache."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.db import connection

from access.keys import key_digest
from access.models import ClientKey
from tests.access.conftest import KEY_HEADER, QUOTE

pytestmark = pytest.mark.django_db


def test_key_format_and_only_its_digest_is_stored(make_key):
    key, raw = make_key()

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM access_clientkey WHERE id = %s", [key.pk])
        row = cursor.fetchone()
    assert raw.startswith("bzp_")
    assert len(raw) == 47
    assert not any(raw in str(value) for value in row)
    assert not any(raw[8:] in str(value) for value in row)
    assert key.prefix == raw[:8]
    assert key.key_digest == key_digest(raw) != raw
    assert raw not in repr(key)
    assert raw not in str(key)


def test_digest_depends_on_the_pepper(settings):
    raw = "bzp_" + "x" * 43
    first = key_digest(raw)

    settings.BREEZE_CLIENT_KEY_PEPPER = "another-pepper-for-this-test"

    assert key_digest(raw) != first


def test_pepper_is_redacted_from_logs(settings):
    assert settings.BREEZE_CLIENT_KEY_PEPPER in settings.REDACT_VALUES


@pytest.mark.usefixtures("keys_required")
def test_cached_request_does_no_database_query(
    api, live_session, make_key, django_assert_num_queries
):
    # Given a first request that looked the key and the session up and noted the key's use
    _, raw = make_key()
    first = api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: raw})
    assert first.status_code == HTTPStatus.OK

    # When the same client asks again
    with django_assert_num_queries(0):
        second = api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: raw})

    # Then it was answered from the cache alone
    assert second.status_code == HTTPStatus.OK
    assert second["RateLimit-Remaining"] == "598"


@pytest.mark.usefixtures("keys_required")
def test_last_used_is_written_at_most_once_a_minute(api, live_session, make_key):
    key, raw = make_key()

    api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: raw})
    first_use = ClientKey.objects.get(pk=key.pk).last_used_at
    api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: raw})

    assert first_use is not None
    assert ClientKey.objects.get(pk=key.pk).last_used_at == first_use


@pytest.mark.usefixtures("keys_required")
def test_unknown_keys_are_cached_too(api, live_session, django_assert_num_queries):
    unknown = "bzp_" + "C" * 43
    api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: unknown})

    with django_assert_num_queries(0):
        response = api.post("/breeze/quotes", QUOTE, format="json", **{KEY_HEADER: unknown})

    assert response.json()["code"] == "client_key_invalid"
