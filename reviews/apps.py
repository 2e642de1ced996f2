from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"

    def ready(self) -> None:
        from marketplace.sweeps import Sweep, register_sweep
        from reviews import sweeps

        register_sweep(Sweep("reviews", sweeps.sweep_reviews, sweeps.reviews_due))
