from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from accounts import views as accounts_views
from realtime.server import views as server_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="chat:room_list"), name="home"),
    path("chat/", include("chat.urls")),
    path("notifications/", include("notifications.urls")),
    path("game/", include("game.urls")),
    path("accounts/signup/", accounts_views.signup, name="signup"),
    path("accounts/logout/", accounts_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    # Readiness under its old name too (probes configured before the split).
    path("healthz", server_views.healthz_ready, name="healthz"),
    path("healthz/live", server_views.healthz_live, name="healthz_live"),
    path("healthz/ready", server_views.healthz_ready, name="healthz_ready"),
    path("metrics", server_views.metrics_view, name="metrics"),
    # Asked for by pages without a <link rel=icon>.
    path(
        "favicon.ico",
        RedirectView.as_view(url=lazy(static, str)("rtsite/favicon.svg"), permanent=True),
    ),
]
