from __future__ import annotations

from django import forms

from chat.models import DESCRIPTION_MAX


class RoomStartForm(forms.Form):
    """A room made on the site (its maker becomes its owner)."""

    title = forms.CharField(max_length=120, help_text="What the room is called.")
    private = forms.BooleanField(
        required=False,
        label="Private",
        help_text="Only the people you invite see a private room.",
    )
    description = forms.CharField(
        required=False, max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )
