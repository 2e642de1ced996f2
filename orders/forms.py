"""Forms of the order page, and the one-use token that makes a form safe to
submit twice (double click, back button, two tabs) where the service itself
has nothing that would refuse the repeat (messages, dispute statements)."""

from __future__ import annotations

import uuid

from django import forms
from django.core.cache import cache
from django.http import HttpRequest

SESSION_KEY = "used_form_tokens"
KEEP = 50


class OneUseForm(forms.Form):
    """Carries a fresh token each time it is rendered; ``claim_token`` says if
    this rendering was already submitted."""

    token = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("token", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)


def claim_token(request: HttpRequest, form: OneUseForm) -> bool:
    """True the first time a rendering of ``form`` is submitted, False after.

    The cache's atomic ``add`` settles two requests racing each other; the
    session remembers across cache restarts and processes. A form without a
    token (an old page, a script) is let through: the service still checks it.
    """
    token = form.cleaned_data.get("token")
    if not token:
        return True
    key = f"form-token:{request.user.pk}:{token}"
    used = request.session.get(SESSION_KEY, [])
    if token in used or not cache.add(key, 1, timeout=24 * 3600):
        return False
    request.session[SESSION_KEY] = [*used, token][-KEEP:]
    return True


def release_token(request: HttpRequest, form: OneUseForm) -> None:
    """The service refused: the same rendering may be corrected and sent again."""
    token = form.cleaned_data.get("token")
    if not token:
        return
    cache.delete(f"form-token:{request.user.pk}:{token}")
    request.session[SESSION_KEY] = [t for t in request.session.get(SESSION_KEY, []) if t != token]


class MessageForm(OneUseForm):
    body = forms.CharField(label="Message", max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
