from django.urls import path

from chat import files_views, views

app_name = "chat"
urlpatterns = [
    path("", views.room_list, name="room_list"),
    path("search/", views.search, name="search"),
    path("new/", views.room_new, name="room_new"),
    path("files/<int:pk>/thumbnail/", files_views.file_thumbnail, name="thumbnail"),
    path("files/<int:pk>/<str:name>", files_views.file_download, name="file"),
    path("<slug:slug>/files/", files_views.file_upload, name="upload"),
    path("<slug:slug>/", views.room_detail, name="room_detail"),
    path("<slug:slug>/notifications/", views.room_notifications, name="room_notifications"),
]
