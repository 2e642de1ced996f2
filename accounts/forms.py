"""Forms of the account pages. They parse input; the rules live in the services."""

from __future__ import annotations

from datetime import timedelta

from allauth.account.forms import ChangePasswordForm as AllauthChangePasswordForm
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import ResetPasswordKeyForm as AllauthResetPasswordKeyForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.mfa.base.forms import AuthenticateForm as AllauthAuthenticateForm
from django import forms
from django.conf import settings
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User, WithdrawalMethod
from accounts.payouts import payout_details_parse
from accounts.services import is_time_zone
from accounts.zones import canonical_zone, zone_choices
from marketplace.errors import InvalidInput
from marketplace.timewords import period_words


def clearance_words(period: timedelta) -> str:
    """When an earning released under a method with this period can be withdrawn: 'available as
    soon as it is released', 'clears 14 days after release'."""
    if period <= timedelta(0):
        return _("available as soon as it is released")
    return _("clears {period} after release").format(period=period_words(period))


def withdrawal_method_choices() -> list[tuple[str, str]]:
    """Each method with its clearance period: 'Bank transfer — clears 14 days after release'."""
    return [
        (value, f"{label} — {clearance_words(settings.CLEARANCE_PERIODS[value])}")
        for value, label in WithdrawalMethod.choices
    ]


class WithdrawalMethodForm(forms.Form):
    """The first choice of how one is paid, asked on the earnings page before the first withdrawal
    (``accounts.services.user_choose_withdrawal_method``). Nothing is chosen for the user."""

    withdrawal_method = forms.ChoiceField(
        label=gettext_lazy("How do you want to be paid?"),
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose how you want to be paid."),
            "invalid_choice": gettext_lazy("Choose one of the withdrawal methods listed."),
        },
        help_text=gettext_lazy(
            "Each earning clears by the method chosen when its milestone is released; "
            "a later change applies to earnings released after it."
        ),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["withdrawal_method"].choices = withdrawal_method_choices()  # type: ignore[attr-defined]


class SignupForm(AllauthSignupForm):
    """allauth's sign-up with the site's labels (Username, Email, Password,
    Password confirmation) and the browser's time zone."""

    # Filled in by the browser (static/js/app.js) with its own zone; empty without JavaScript (UTC).
    time_zone = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput(attrs={"data-guess-zone": ""}))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Username")
        self.fields["email"].label = _("Email")
        self.fields["email"].help_text = _("For notices about your orders and payments; we send a link to confirm it.")
        self.fields["password1"].label = _("Password")
        self.fields["password2"].label = _("Password confirmation")
        for field in self.fields.values():
            field.widget.attrs.pop("placeholder", None)


class LoginForm(AllauthLoginForm):
    """allauth's log-in by username, labelled as the site always was. A
    script that posts ``username`` (the field's name before allauth) still
    logs in."""

    def __init__(self, *args, **kwargs) -> None:
        data = kwargs.get("data")
        if data is not None and "login" not in data and "username" in data:
            data = data.copy()
            data["login"] = data["username"]
            kwargs["data"] = data
        super().__init__(*args, **kwargs)
        self.fields["login"].label = _("Username")
        self.fields["password"].label = _("Password")
        # The page has its own "Forgot your password?" link, next to "Log in".
        self.fields["password"].help_text = ""
        self.fields.pop("remember", None)
        for field in self.fields.values():
            field.widget.attrs.pop("placeholder", None)

    def login(self, request, redirect_url=None):
        """allauth sets the "remember me" expiry after logging in; a staff member's session ends
        sooner (``STAFF_SESSION_AGE``), set after it (also when the second factor is still to come:
        the expiry goes with the session to the code's page)."""
        response = super().login(request, redirect_url=redirect_url)
        if getattr(self, "user", None) is not None and self.user.is_staff:
            request.session.set_expiry(settings.STAFF_SESSION_AGE)
        return response


def _attrs_html(attrs: dict) -> str:
    """Django's ``django/forms/widgets/attrs.html``, in Python: `` name="value"``, a bare `` name``
    for True, nothing for False."""
    parts = []
    for name, value in attrs.items():
        if value is True:
            parts.append(f" {conditional_escape(name)}")
        elif value is not False:
            parts.append(f' {conditional_escape(name)}="{conditional_escape(value)}"')
    return "".join(parts)


class ZoneSelect(forms.Select):
    """Django's ``Select`` with the markup of its templates (``select.html``, ``select_option.html``)
    written here: the zone list has some 430 options, and a template include per option cost the
    profile page about 40 ms of CPU a request. The same context (``get_context``), the same HTML."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        attrs_html = mark_safe(_attrs_html(widget["attrs"]))  # noqa: S308 - escaped by _attrs_html
        parts: list[str] = [format_html('<select name="{}"{}>', widget["name"], attrs_html)]
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                parts.append(format_html('\n  <optgroup label="{}">', group_name))
            for option in group_choices:
                parts.append(
                    format_html(
                        '\n  <option value="{}"{}>{}</option>\n',
                        str(option["value"]),
                        mark_safe(_attrs_html(option["attrs"])),  # noqa: S308 - escaped by _attrs_html
                        option["label"],
                    )
                )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # noqa: S308 - every part escaped above


class TimeZoneField(forms.ChoiceField):
    """A time zone from the canonical list, grouped by region (``accounts.zones``); an alias
    (a saved "GB-Eire", an old client's "US/Pacific") is still valid and becomes the zone it
    stands for; one that stands for none offered is kept as it is."""

    widget = ZoneSelect

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=zone_choices, **kwargs)

    def to_python(self, value) -> str:
        return canonical_zone(super().to_python(value).strip())

    def valid_value(self, value) -> bool:
        return is_time_zone(value)


class ProfileForm(forms.ModelForm):
    time_zone = TimeZoneField(
        label=gettext_lazy("Time zone"),
        required=False,
        help_text=gettext_lazy("Every time on the site is shown in it, and deadlines you type are read in it."),
    )
    withdrawal_method = forms.ChoiceField(
        label=gettext_lazy("Withdrawal method"),
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "Approved earnings clear after this period, then you can withdraw them. "
            "A change applies to earnings released after it."
        ),
    )
    current_password = forms.CharField(
        label=gettext_lazy("Current password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        # Required only when the withdrawal method or the payout account changes (``clean``): the page
        # says so instead of "(optional)", which read as never needed and then refused the change.
        help_text=gettext_lazy(
            "Required to change your withdrawal method or payout account; we e-mail you when they change. "
            "Not needed for the rest of your profile."
        ),
    )

    class Meta:
        model = User
        fields = (
            "bio",
            "withdrawal_method",
            "payout_account",
            "refund_to",
            "time_zone",
            "language",
            "email_notifications",
        )
        labels = {"bio": gettext_lazy("Bio"), "payout_account": gettext_lazy("Payout account")}
        widgets = {
            "bio": forms.Textarea(attrs={"rows": 5}),
            "payout_account": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "refund_to": forms.RadioSelect,
            "email_notifications": forms.RadioSelect,
        }
        help_texts = {
            "bio": gettext_lazy("Shown on your gigs. Plain text."),
            "payout_account": gettext_lazy(
                "Where withdrawals go: a debit card's number, a PayPal e-mail, or an IBAN or bank account number. "
                "We keep only its last four digits and the payment provider's token; type it whole to change it."
            ),
            "refund_to": gettext_lazy(
                "When a seller declines a milestone or a dispute refunds you. Cancelling asks each time."
            ),
            "email_notifications": gettext_lazy(
                "Which notifications are also sent to your e-mail. All of them stay on the site."
            ),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["withdrawal_method"].choices = withdrawal_method_choices()  # type: ignore[attr-defined]
        # Older clients and scripts post the profile without these: keep what is saved.
        for name in ("refund_to", "time_zone", "language", "email_notifications"):
            self.fields[name].required = False
        # The saved zone selected, under its canonical name if it is an alias; one that maps to
        # none offered is listed first, as it is. Until the user chooses, the page's script
        # (static/js/app.js) preselects the browser's zone; without it, the saved one stays.
        saved = self.instance.time_zone or "UTC"
        zone = self.fields["time_zone"]
        zone.choices = zone_choices(saved)  # type: ignore[attr-defined]
        self.initial["time_zone"] = canonical_zone(saved)
        zone.widget.attrs.update(
            {
                "data-guess-zone": "",
                "data-zone-chosen": "true" if self.instance.time_zone_chosen_at else "false",
                # The group static/js/app.js puts first, named in the reader's language.
                "data-guess-label": _("Your browser's zone"),
            }
        )

    def clean(self) -> dict:
        """Changing how or where one is paid asks for the password again: a session left open on a
        shared computer must not be enough to send the next withdrawal elsewhere."""
        data = super().clean() or {}
        if "payout_account" in self.changed_data and data.get("payout_account") and data.get("withdrawal_method"):
            # The service checks it again; here its error shows next to the field before anything is attempted.
            try:
                payout_details_parse(method=data["withdrawal_method"], raw=data["payout_account"])
            except InvalidInput as error:
                self.add_error("payout_account", error.message)
        payout_fields = {"withdrawal_method", "payout_account"} & set(self.changed_data)
        if payout_fields:
            password = data.get("current_password") or ""
            if not self.instance.check_password(password):
                self.add_error(
                    "current_password",
                    _("Enter your current password to change how or where you are paid.")
                    if not password
                    else _("That is not your current password."),
                )
        return data

    def clean_refund_to(self) -> str:
        return self.cleaned_data.get("refund_to") or self.instance.refund_to or "balance"

    def clean_time_zone(self) -> str:
        # The choices already refuse an unknown zone; the service checks it again.
        return self.cleaned_data.get("time_zone") or self.instance.time_zone or "UTC"

    def clean_email_notifications(self) -> str:
        return self.cleaned_data.get("email_notifications") or self.instance.email_notifications or "all"


class ChangePasswordForm(AllauthChangePasswordForm):
    """allauth's password change, with the site's labels."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["oldpassword"].label = _("Old password")
        self.fields["password1"].label = _("New password")
        self.fields["password2"].label = _("New password confirmation")
        for field in self.fields.values():
            field.widget.attrs.pop("placeholder", None)


class TwoFactorForm(AllauthAuthenticateForm):
    """The code asked at log-in from a user enrolled in two-factor."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].label = _("Authenticator code")
        self.fields["code"].widget.attrs.pop("placeholder", None)
        self.fields["code"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "one-time-code"})


class ResetPasswordKeyForm(AllauthResetPasswordKeyForm):
    """The new password, from the link of a reset e-mail."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password1"].label = _("New password")
        self.fields["password2"].label = _("New password confirmation")
        for field in self.fields.values():
            field.widget.attrs.pop("placeholder", None)
