"""Market routes; mounted under both /breeze/ and /api/breeze/. The single-answer endpoints
stand behind the front door (``market.front_door``)."""

from django.urls import path

from breeze.gateway.flight import depth_key
from market import serializers as shapes
from market import services, views
from market.front_door import Route, front_door


def _post(viewset: type) -> object:
    return viewset.as_view({"post": "create"})


urlpatterns = [
    path("health", views.HealthView.as_view(), name="health"),
    path(
        "quotes",
        front_door(
            Route("quotes", "quotes", shapes.QuoteRequestSerializer), _post(views.QuoteViewSet)
        ),
        name="quotes",
    ),
    path("quotes/batch", _post(views.BatchQuoteViewSet), name="quotes-batch"),
    path(
        "depth",
        front_door(
            Route(
                "depth",
                "depth",
                shapes.QuoteRequestSerializer,
                services.depth_from,
                prefer=depth_key,
            ),
            _post(views.DepthViewSet),
        ),
        name="depth",
    ),
    # History is assembled from the store and pages of Breeze calls: no ready answer to serve.
    path("historical", _post(views.HistoricalViewSet), name="historical"),
    path(
        "option-chain",
        front_door(
            Route("option-chain", "option_chain", shapes.OptionChainRequestSerializer),
            _post(views.OptionChainViewSet),
        ),
        name="option-chain",
    ),
]
