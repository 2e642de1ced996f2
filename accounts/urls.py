from allauth.account import views as allauth_views
from django.contrib.auth.decorators import login_required
from django.urls import path
from django.views.generic import RedirectView

from accounts import views

# The site's own names for allauth's pages, at the URLs they always had
# (``login``, ``signup``, ``logout``, ``password_change``); allauth's
# other pages (password reset, e-mail addresses, two-factor) are under
# ``accounts/`` by their allauth names (``marketplace/urls.py``).
urlpatterns = [
    path("accounts/signup/", allauth_views.signup, name="signup"),
    path("accounts/login/", allauth_views.login, name="login"),
    path("accounts/logout/", views.logout, name="logout"),
    path(
        "accounts/password/",
        login_required(RedirectView.as_view(pattern_name="account_change_password")),
        name="password_change",
    ),
    path("accounts/profile/", views.profile, name="profile"),
    # The footer's language selector; Django's name, so {% url 'set_language' %} finds it.
    path("i18n/setlang/", views.language_set, name="set_language"),
]
