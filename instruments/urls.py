"""Instrument routes; mounted under both /breeze/ and /api/breeze/."""

from django.urls import path

from instruments import views

urlpatterns = [
    path("instruments", views.InstrumentSearchView.as_view(), name="instruments"),
    path(
        "instruments/<str:exchange>/<str:text>",
        views.InstrumentDetailView.as_view(),
        name="instrument",
    ),
    path("expiries", views.ExpiriesView.as_view(), name="expiries"),
    path("strikes", views.StrikesView.as_view(), name="strikes"),
]
