from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from orders.selectors import order_for_user


@login_required
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = order_for_user(request.user, pk)
    return render(request, "orders/order_detail.html", {"order": order})
