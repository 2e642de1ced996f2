from django.apps import AppConfig


class CalendarFeedConfig(AppConfig):
    """A user's secret calendar address (``/calendar/<token>.ics``): their open deadlines, auto-approval
    dates and the answers they owe, as events any calendar application subscribes to."""

    name = "calendar_feed"
    verbose_name = "Calendar feed"
