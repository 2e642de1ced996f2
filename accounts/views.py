"""Account pages of the site's own: the profile (how one is paid, refunded,
told, and in which time zone), and logging out.

Sign-up, log-in, password reset and change, e-mail addresses and two-factor
are django-allauth's views (``accounts/urls.py``, ``marketplace/urls.py``),
in the site's templates (``templates/account/``, ``templates/allauth/``).
"""

from __future__ import annotations

from allauth.account import views as allauth_views
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_POST

from accounts.forms import ProfileForm
from accounts.http import AuthedRequest
from accounts.middleware import SESSION_LANGUAGE, SESSION_TIME_ZONE, has_totp
from accounts.services import user_set_language, user_update_profile
from accounts.zones import zone_aliases
from marketplace.errors import DomainError
from marketplace.forms import show_domain_error
from marketplace.http import client_ip


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Log out: a POST only (a link or a prefetch must not sign anyone out)."""
    return allauth_views.logout(request)


@login_required
def profile(request: AuthedRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "current_password"}
        # A zone sent from the list is a choice (an old client that sends none keeps the saved one).
        chosen = bool(request.POST.get("time_zone"))
        try:
            user = user_update_profile(user=request.user, ip=client_ip(request), time_zone_chosen=chosen, **data)
        except DomainError as error:
            show_domain_error(request, form, error)
        else:
            request.session[SESSION_TIME_ZONE] = user.time_zone
            request.session[SESSION_LANGUAGE] = user.language
            translation.activate(user.language)
            messages.success(request, _("Your profile is saved."))
            return redirect("profile")
    context = {
        "form": form,
        # With Stripe, payouts go to a connected account set up on Stripe's pages, not to the typed account.
        "payouts_by_stripe": settings.PAYMENT_PROVIDER == "stripe",
        "email_address": EmailAddress.objects.filter(user=request.user, primary=True).first(),
        "two_factor": has_totp(request.user),
        # For the script that preselects the browser's zone: a browser may report an alias ("Asia/Calcutta").
        "zone_aliases": zone_aliases(),
    }
    return render(request, "accounts/profile.html", context)


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The footer's "Language" (a POST, as Django's ``set_language``, whose cookie keeps a visitor's
    choice): a signed-in user's is kept on their profile as well, so it follows them to every device
    and to the e-mails they receive. Back to the page it was chosen on."""
    response = i18n.set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        user_set_language(user=request.user, language=language)  # type: ignore[arg-type]
        request.session[SESSION_LANGUAGE] = language
    return response
