from django.urls import path

from chat import views

app_name = "chat"
urlpatterns = [
    path("", views.room_list, name="room_list"),
    path("search/", views.search, name="search"),
    path("<slug:slug>/", views.room_detail, name="room_detail"),
]
