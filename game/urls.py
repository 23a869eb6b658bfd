from django.urls import path

from game import views

app_name = "game"
urlpatterns = [
    path("", views.lobby, name="lobby"),
    path("<int:game_id>/", views.detail, name="detail"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("arena/<int:arena_id>/", views.arena, name="arena"),
]
