from django.apps import AppConfig


class RequestsBoardConfig(AppConfig):
    name = "requests_board"
    verbose_name = "Buyer requests"
