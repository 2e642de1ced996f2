from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CalendarFeedConfig(AppConfig):
    """A user's secret calendar address (``/calendar/<token>.ics``): their open deadlines, auto-approval
    dates and the answers they owe, as events any calendar application subscribes to."""

    name = "calendar_feed"
    verbose_name = _("Calendar feed")
