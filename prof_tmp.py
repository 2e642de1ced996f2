import os, time, sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings_test")
import django

django.setup()
from django.test import Client
from django.db import connection
from django.db.models import Count
from orders.models import Order
from accounts.models import User

big_seller = User.objects.annotate(n=Count("orders_as_seller")).order_by("-n").first()
o = Order.objects.annotate(n=Count("milestones")).filter(n=50).first()
for who, url in (
    (o.buyer, f"/orders/{o.pk}/"),
    (o.buyer, "/dashboard/buying/"),
    (big_seller, "/dashboard/selling/"),
    (big_seller, "/earnings/"),
):
    c = Client()
    c.force_login(who)
    c.get(url)
    times = []

    def wrap(execute, sql, params, many, context):
        t = time.perf_counter()
        r = execute(sql, params, many, context)
        times.append((time.perf_counter() - t, sql[:150]))
        return r

    with connection.execute_wrapper(wrap):
        c.get(url)
    t = time.perf_counter()
    for _ in range(5):
        c.get(url)
    print(
        url,
        "ms per page",
        round((time.perf_counter() - t) * 200, 1),
        "queries",
        round(sum(t for t, _ in times) * 1000, 1),
        "ms",
    )
    for t, sql in sorted(times, reverse=True)[:2]:
        print(f"   {t * 1000:7.2f} ms  {sql}")
