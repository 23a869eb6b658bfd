from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from rtsite import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="chat:room_list"), name="home"),
    path("chat/", include("chat.urls")),
    path("notifications/", include("notifications.urls")),
    path("game/", include("game.urls")),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    # Readiness under its old name too (probes configured before the split).
    path("healthz", views.healthz_ready, name="healthz"),
    path("healthz/live", views.healthz_live, name="healthz_live"),
    path("healthz/ready", views.healthz_ready, name="healthz_ready"),
    path("metrics", views.metrics_view, name="metrics"),
    path("favicon.ico", views.favicon),  # asked for by pages without a <link rel=icon>
]
