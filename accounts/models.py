"""The site-wide records of the real-time plumbing's own."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AccountName(models.Model):
    """The look-alike skeletons of a username (``accounts.names``), to refuse a new name
    that reads the same as an existing one without scanning every account."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    skeleton = models.CharField(max_length=600, db_index=True)
    folded_skeleton = models.CharField(max_length=600, db_index=True)

    def __str__(self) -> str:
        return self.skeleton
