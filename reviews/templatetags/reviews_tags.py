"""The review block of the order page. The order page is built by
``milestones``, below this app, so it loads this tag instead of importing it."""

from __future__ import annotations

from django import template

from orders.models import OrderStatus
from reviews.forms import ReplyForm
from reviews.selectors import order_reviews

register = template.Library()


@register.inclusion_tag("reviews/order_reviews.html", takes_context=True)
def order_review_block(context, order):
    user = context["user"]
    if order.status != OrderStatus.COMPLETED or not order.is_party(user):
        return {"block": None}  # reviews open at completion, for the parties: no query before
    return {
        "order": order,
        "user": user,
        "block": order_reviews(order, user),
        "reply_form": ReplyForm(),
        "csrf_token": context.get("csrf_token"),
    }
