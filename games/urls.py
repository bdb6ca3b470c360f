from django.urls import path

from games import health, views, views_watch

urlpatterns = [
    path("", views.index, name="index"),
    path("metrics", health.metrics),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("api/session", views.session),
    path("api/guest", views.guest),
    path("api/games", views.games),
    path("api/matches", views.matches),
    path("api/matches/<str:match_id>", views.match_detail),
    path("api/matches/<str:match_id>/join", views.match_join),
    path("api/matches/<str:match_id>/ticket", views.ticket),
    path("api/matches/<str:match_id>/watch", views_watch.watch),
    path("api/live", views_watch.live),
    path("api/join-by-code", views.join_by_code),
    path("api/quickplay", views.quickplay),
    path("api/<path:rest>", views.not_found),
]
