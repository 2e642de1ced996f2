"""The REST API's views: thin, like the pages'. Each finds the object the caller may see (the
caller's own orders, as ``orders_visible_to`` limited to the parties: staff are members here),
parses the input with the page's own form, and calls the page's own service; a refusal is the
service's words as problem+json (``api.problems``)."""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.http import Http404, QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _
from djmoney.money import Money
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import serializers as s
from api.problems import problem
from gigs import selectors as gig_selectors
from gigs.forms import GigSearchForm
from gigs.models import Gig
from gigs.services import gig_create, gig_pause, gig_resume, gig_terms_errors, gig_update
from marketplace.errors import DomainError, DuplicateRequest
from milestones.actions import BY_NAME
from milestones.forms import MilestoneTermsForm, OfferForm
from milestones.models import Milestone, MilestoneState, Proposal
from milestones.selectors import can_create_milestone, can_offer_milestone
from milestones.services import offers, proposals
from milestones.services.creation import milestone_create
from notifications.models import Notification
from notifications.services import notification_open, notifications_mark_read
from orders.forms import MessageForm
from orders.models import Order, OrderMessage
from orders.selectors import orders_visible_to
from orders.services import order_message_send
from payments.checkout import checkout_open
from payments.models import Account, Checkout, Entry
from payments.providers import ProviderUnavailable
from payments.receipts import receipt_for, transaction_label
from payments.services import FundingSource

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Sent again with the same value, the request is done once: the second answer is the first's result.",
)


def member_orders(user) -> QuerySet[Order]:
    """The orders the pages let ``user`` see, limited to those they are a party to: the API gives
    staff no more than any member (support reads happen in the admin, with two-factor)."""
    return orders_visible_to(user).filter(Q(buyer=user) | Q(seller=user))


def member_milestones(user) -> QuerySet[Milestone]:
    return Milestone.objects.filter(order__in=member_orders(user))


def scoped_key(request: Request, *parts: object) -> str | None:
    """The ``Idempotency-Key`` header as the services' key: hashed with the caller and what it acts
    on, so that one caller's key can never match another's row (the services' keys are global)."""
    raw = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not raw:
        return None
    if len(raw) > 255:
        raise ValidationError({IDEMPOTENCY_HEADER: [_("Keep the Idempotency-Key to 255 characters or fewer.")]})
    joined = ":".join(str(p) for p in ("api", request.user.pk, *parts, raw))
    return hashlib.sha256(joined.encode()).hexdigest()


# How long the answer to a POST with an ``Idempotency-Key`` is replayed for the same caller and URL.
REPLAY_SECONDS = 24 * 3600


def replayed(request: Request, act) -> Response:
    """``act()``'s answer, or, for a repeat of a POST with the same ``Idempotency-Key`` by the same
    caller to the same URL, the first answer again: a client retrying after a lost response learns
    what happened rather than a 409. The money itself never depends on this: each service moves it
    once under the milestone's lock whatever arrives (``tests/api/test_races.py``); this only keeps
    the answer (in the default cache, so per web process with the local-memory cache)."""
    key = scoped_key(request, "replay", request.path)
    if key is None:
        return act()
    cache_key = f"api-replay:{key}"
    if (stored := cache.get(cache_key)) is not None:
        code, data = stored
        return Response(data, status=code, headers={"Idempotent-Replayed": "true"})
    response = act()
    if 200 <= response.status_code < 300:
        cache.set(cache_key, (response.status_code, response.data), REPLAY_SECONDS)
    return response


def form_data(request: Request) -> Any:
    """The request's fields as a page's form reads them: a JSON list of links becomes one per line."""
    data = request.data
    if isinstance(data, QueryDict):
        return data
    data = dict(data) if isinstance(data, dict) else {}
    if isinstance(data.get("links"), list):
        data["links"] = "\n".join(str(link) for link in data["links"])
    return data


def parsed(form: forms.Form) -> dict[str, Any]:
    """The form's cleaned data, or 400 with every field's error in the page's words."""
    if not form.is_valid():
        raise ValidationError(
            {
                ("" if field == "__all__" else field): [str(m) for m in messages]
                for field, messages in form.errors.items()
            }
        )
    return form.cleaned_data


def refused(error: DomainError, aliases: dict[str, str] | None = None) -> DomainError:
    """The service's error with its field named as the API's input names it."""
    if error.field and aliases:
        error.field = aliases.get(error.field, error.field)
    return error


@extend_schema(responses=s.TokenInfoSerializer)
class MeView(APIView):
    """The caller and the token in use."""

    def get(self, request: Request) -> Response:
        token = request.auth
        return Response(
            {
                "id": request.user.pk,
                "username": request.user.username,
                "token": s.TokenInfoSerializer(token).data if token is not None else None,
            }
        )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, description="Only orders in this status."),
            OpenApiParameter("role", OpenApiTypes.STR, enum=["buyer", "seller"], description="Your side of it."),
        ]
    )
)
class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.OrderSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        user = self.request.user
        orders = member_orders(user).select_related("buyer", "seller")
        role = self.request.query_params.get("role")
        if role == "buyer":
            orders = orders.filter(buyer=user)
        elif role == "seller":
            orders = orders.filter(seller=user)
        elif role:
            raise ValidationError({"role": [_("Choose buyer or seller.")]})
        if order_status := self.request.query_params.get("status"):
            orders = orders.filter(status=order_status)
        return orders

    @extend_schema(
        request=s.OfferCreateInput,
        responses={201: s.MilestoneSerializer, 200: s.MilestoneSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=True, methods=["post"])
    def offers(self, request: Request, pk: str | None = None) -> Response:
        """The seller offers a new milestone on the order ("Propose a milestone"); nothing is charged
        until the buyer accepts it (``POST /api/v1/milestones/<id>/accept-offer/``)."""
        return _offer_create(self, request)

    @extend_schema(
        request=s.MessageInput,
        responses=s.MessageSerializer(many=True),
        methods=["GET", "POST"],
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=True, methods=["get", "post"], parser_classes=[MultiPartParser, FormParser, JSONParser])
    def messages(self, request: Request, pk: str | None = None) -> Response:
        """The order's thread; POST sends a message (multipart for files, field ``attachment``)."""
        order = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(
                OrderMessage.objects.filter(order=order).select_related("author").prefetch_related("files")
            )
            return self.get_paginated_response(s.MessageSerializer(page, many=True).data)
        data = parsed(MessageForm(form_data(request), request.FILES))
        try:
            message = order_message_send(
                order=order,
                author=request.user,
                body=data["body"],
                idempotency_key=scoped_key(request, "message", order.pk),
                files=data.get("attachment") or [],
            )
        except DuplicateRequest:
            return Response(status=status.HTTP_200_OK)
        except DomainError as error:
            raise refused(error, {"files": "attachment"}) from None
        return Response(s.MessageSerializer(message).data, status=status.HTTP_201_CREATED)


def _offer_create(view: OrderViewSet, request: Request) -> Response:
    order = view.get_object()
    if not can_offer_milestone(order, request.user):
        raise PermissionDenied(_("Only the seller of an open order can offer a milestone."))
    data = parsed(OfferForm(form_data(request), order=order))
    key = scoped_key(request, "offer", order.pk) or uuid.uuid4().hex
    try:
        milestone = offers.offer_create(
            order=order,
            actor=request.user,
            title=data["title"],
            description=data["description"],
            deadline=data["deadline"],
            amount=Money(data["amount"], order.currency),
            idempotency_key=key,
        )
        code = status.HTTP_201_CREATED
    except DuplicateRequest as error:
        milestone = error.obj if isinstance(error.obj, Milestone) else Milestone.objects.get(funding_key=key)
        code = status.HTTP_200_OK
    return Response(s.MilestoneSerializer(milestone).data, status=code)


def _milestone_action(name: str, request_serializer: type, *, path: str, doc: str, money: bool = False):
    """One action of ``milestones.actions`` as ``POST /api/v1/milestones/<id>/<path>/``."""
    page_action = BY_NAME[name]

    def view(self: MilestoneViewSet, request: Request, pk: str | None = None) -> Response:
        return replayed(request, lambda: act(self, request))

    def act(self: MilestoneViewSet, request: Request) -> Response:
        milestone = self.get_object()
        data: dict[str, Any] = {}
        if page_action.form is not None:
            kwargs = page_action.form_kwargs(milestone, request.user) if page_action.form_kwargs else {}
            data = parsed(page_action.form(form_data(request), request.FILES, **kwargs))
        try:
            page_action.perform(milestone, request.user, data)
        except DomainError as error:
            raise refused(error, {v: k for k, v in page_action.aliases.items()} | page_action.aliases) from None
        milestone = member_milestones(request.user).get(pk=milestone.pk)
        return Response(s.MilestoneSerializer(milestone).data)

    view.__name__ = path.replace("-", "_")
    view.__doc__ = doc
    parameters = [IDEMPOTENCY_PARAMETER]  # every action: a retry replays the first answer
    return action(
        detail=True, methods=["post"], url_path=path, parser_classes=[JSONParser, MultiPartParser, FormParser]
    )(extend_schema(request=request_serializer, responses=s.MilestoneSerializer, parameters=parameters)(view))


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("order", OpenApiTypes.INT, description="Only this order's milestones."),
            OpenApiParameter("state", OpenApiTypes.STR, description="Only milestones in this state."),
        ]
    )
)
class MilestoneViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.MilestoneSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Milestone.objects.none()
        milestones = member_milestones(self.request.user)
        if order := self.request.query_params.get("order"):
            if not order.isdigit():
                raise ValidationError({"order": [_("Give the order's number.")]})
            milestones = milestones.filter(order_id=int(order))
        if state := self.request.query_params.get("state"):
            milestones = milestones.filter(state=state)
        return milestones

    @extend_schema(
        request=s.MilestoneCreateInput,
        responses={201: s.CreatedMilestoneSerializer, 200: s.CreatedMilestoneSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create a milestone and pay it: from the balance at once, or by card on the provider's hosted
        page, whose address the answer gives (``checkout_url``). The API never takes a card."""
        raw = form_data(request)
        order_id = str(raw.get("order", ""))
        if not order_id.isdigit():
            raise ValidationError({"order": [_("Give the order's number.")]})
        order = member_orders(request.user).filter(pk=int(order_id)).select_related("buyer", "seller").first()
        if order is None:
            return problem(status.HTTP_404_NOT_FOUND, _("No such order {order}.").format(order=order_id))
        if not can_create_milestone(order, request.user):
            raise PermissionDenied(_("Only the buyer of an open order can create milestones."))
        pay_with = raw.get("pay_with") or "balance"
        errors: dict[str, list[str]] = {}
        form = MilestoneTermsForm(raw, order=order)
        if not form.is_valid():
            errors.update({f: [str(m) for m in msgs] for f, msgs in form.errors.items()})
        if pay_with not in ("balance", "card"):
            errors["pay_with"] = [_("Choose how to pay.")]
        if errors:
            raise ValidationError(errors)
        key = scoped_key(request, "milestone", order.pk) or uuid.uuid4().hex
        data = form.cleaned_data
        try:
            milestone = milestone_create(
                order=order,
                actor=request.user,
                title=data["title"],
                description=data["description"],
                deadline=data["deadline"],
                amount=Money(data["amount"], order.currency),
                source=FundingSource(method="balance" if pay_with == "balance" else "checkout"),
                idempotency_key=key,
            )
            code = status.HTTP_201_CREATED
        except DuplicateRequest as error:
            milestone = error.obj if isinstance(error.obj, Milestone) else Milestone.objects.get(funding_key=key)
            code = status.HTTP_200_OK
        checkout_url = None
        if milestone.state == MilestoneState.AWAITING_PAYMENT:
            checkout_url = self._checkout_url(milestone)
        milestone = member_milestones(request.user).get(pk=milestone.pk)
        answer = s.CreatedMilestoneSerializer(milestone, context={"checkout_url": checkout_url}).data
        return Response(answer, status=code)

    @staticmethod
    def _checkout_url(milestone: Milestone) -> str | None:
        """The provider's page for the unpaid milestone, as ``views._to_checkout`` opens it."""
        checkout = Checkout.objects.select_related("buyer", "milestone__order").filter(milestone=milestone).first()
        if checkout is None or not checkout.is_open:
            return None
        back = settings.SITE_URL + reverse("milestone_checkout_return", args=[milestone.pk])
        try:
            checkout = checkout_open(
                checkout=checkout,
                success_url=back + "?session_id={CHECKOUT_SESSION_ID}",
                cancel_url=back + "?cancelled=1",
            )
        except ProviderUnavailable:
            return None
        return checkout.url

    accept = _milestone_action("accept", s.Empty, path="accept", doc="The seller accepts the milestone.")
    decline = _milestone_action(
        "decline", s.ReasonInput, path="decline", doc="The seller declines; the buyer is refunded.", money=True
    )
    submit = _milestone_action(
        "submit", s.SubmitInput, path="submit", doc="The seller delivers: files (multipart), links and a message."
    )
    request_revision = _milestone_action(
        "request_revision", s.FeedbackInput, path="request-revision", doc="The buyer asks for a revision."
    )
    approve = _milestone_action(
        "approve", s.ApproveInput, path="approve", doc="The buyer approves: the escrow is released.", money=True
    )
    cancel = _milestone_action(
        "cancel", s.CancelInput, path="cancel", doc="The buyer cancels before work starts: refunded.", money=True
    )
    dispute = _milestone_action(
        "open_dispute", s.DisputeInput, path="dispute", doc="Either party opens a dispute (multipart for a file)."
    )
    accept_offer = _milestone_action(
        "offer_checkout",
        s.Empty,
        path="accept-offer",
        doc="The buyer accepts a seller's offer, paid from the balance.",
        money=True,
    )
    decline_offer = _milestone_action(
        "decline_offer", s.OptionalReasonInput, path="decline-offer", doc="The buyer declines a seller's offer."
    )
    withdraw_offer = _milestone_action(
        "withdraw_offer", s.Empty, path="withdraw-offer", doc="The seller withdraws their offer."
    )
    changes = _milestone_action(
        "propose_changes", s.ChangesInput, path="changes", doc="The seller proposes other terms before accepting."
    )
    extension = _milestone_action(
        "request_extension", s.ExtensionInput, path="extension", doc="The seller asks for a later deadline."
    )
    cancellation = _milestone_action(
        "request_cancellation",
        s.CancellationInput,
        path="cancellation",
        doc="Either party asks to cancel by agreement.",
    )


class ProposalViewSet(viewsets.ReadOnlyModelViewSet):
    """Requests on milestones (changes, extension, cancellation), and their answers."""

    serializer_class = s.ProposalSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Proposal.objects.none()
        return Proposal.objects.filter(milestone__in=member_milestones(self.request.user))

    def _answer(self, request: Request, service) -> Response:
        def act() -> Response:
            proposal = self.get_object()
            service(proposal=proposal, actor=request.user)
            proposal.refresh_from_db()
            return Response(s.ProposalSerializer(proposal).data)

        return replayed(request, act)

    @extend_schema(request=s.Empty, responses=s.ProposalSerializer, parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        """Accept the other party's request (an accepted cancellation moves the money as the page says)."""
        return self._answer(request, proposals.proposal_accept)

    @extend_schema(request=s.Empty, responses=s.ProposalSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str | None = None) -> Response:
        return self._answer(request, proposals.proposal_decline)

    @extend_schema(request=s.Empty, responses=s.ProposalSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        return self._answer(request, proposals.proposal_withdraw)


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread ones.")])
)
class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.NotificationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        notices = Notification.objects.filter(recipient=self.request.user)
        if self.request.query_params.get("unread") in ("1", "true"):
            notices = notices.filter(read_at__isnull=True)
        return notices

    @extend_schema(request=s.Empty, responses=s.NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        notice = self.get_object()
        return Response(s.NotificationSerializer(notification_open(user=request.user, notification_id=notice.pk)).data)

    @extend_schema(request=s.Empty, responses={200: {"type": "object", "properties": {"marked": {"type": "integer"}}}})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        return Response({"marked": notifications_mark_read(user=request.user)})


class BalanceView(APIView):
    """Your balances, per account kind and currency, as the ledger holds them."""

    @extend_schema(responses={200: {"type": "array", "items": {"type": "object"}}})
    def get(self, request: Request) -> Response:
        accounts = Account.objects.filter(user=request.user).order_by("kind", "currency")
        return Response(
            [
                {"kind": a.kind, "label": a.get_kind_display(), **s.MoneyField().to_representation(a.cached_balance)}
                for a in accounts
            ]
        )


class RankedPages(PageNumberPagination):
    """Search results are ranked (best match, price, rating): pages by number, as on the home page."""

    page_size = 24


def _search_params():
    return [
        OpenApiParameter(name, OpenApiTypes.STR, description=what)
        for name, what in (
            ("q", "Words to search for."),
            ("category", "A category's key."),
            ("min_price", "Lowest starting price (in `currency`)."),
            ("max_price", "Highest starting price (in `currency`)."),
            ("currency", "The currency of the price filter."),
            ("delivery", "Delivered within this many days."),
            ("sort", "relevance, rating, price or newest."),
            ("mine", "true: your own gigs, paused ones included (sign in)."),
        )
    ]


@extend_schema_view(list=extend_schema(parameters=_search_params()))
class GigViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The listed gigs, searched as on the home page (public); a seller's own gigs: create, update,
    pause and resume, through the gig editor's services."""

    serializer_class = s.GigSerializer
    pagination_class = RankedPages
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [AllowAny()]
        return super().get_permissions()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Gig.objects.none()
        user = self.request.user
        if self.action == "list":
            if self.request.query_params.get("mine") in ("1", "true"):
                if not user.is_authenticated:
                    raise PermissionDenied(_("Sign in to list your own gigs."))
                return Gig.objects.filter(seller=user).select_related("seller").order_by("-created_at", "-pk")
            form = GigSearchForm(self.request.query_params)
            filters = form.filters()
            if form.errors:
                raise ValidationError({f: [str(m) for m in msgs] for f, msgs in form.errors.items()})
            return gig_selectors.gigs_search(**filters)
        if self.action == "retrieve":
            # Listed gigs, and one's own whatever their state (``gig_for_viewer``'s rule).
            return Gig.objects.select_related("seller").filter(Q(is_active=True) | Q(seller_id=user.pk or 0))
        return Gig.objects.select_related("seller").filter(seller_id=user.pk or 0)

    @extend_schema(request=s.GigCreateInput, responses={201: s.GigSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Publish a gig of one package, "Basic", at its starting price and delivery time."""
        raw = form_data(request)
        errors: dict[str, list[str]] = {}
        price = days = None
        currency = str(raw.get("currency") or settings.MARKETPLACE_DEFAULT_CURRENCY)
        if currency not in settings.MARKETPLACE_CURRENCIES:
            errors["currency"] = [f"{currency[:10]} is not a currency of this marketplace."]
            currency = settings.MARKETPLACE_DEFAULT_CURRENCY
        try:
            price = Money(Decimal(str(raw.get("starting_price", ""))), currency)
            if not price.amount.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors["starting_price"] = [_("Enter the starting price as a number, e.g. 50 or 49.99.")]
            price = None
        try:
            days = int(str(raw.get("delivery_days", "")))
        except ValueError:
            errors["delivery_days"] = [_("Enter the delivery time in days, e.g. 7.")]
        for error in gig_terms_errors(
            title=str(raw.get("title") or ""),
            description=str(raw.get("description") or ""),
            starting_price=price,
            delivery_days=days,
            category=str(raw.get("category") or ""),
        ):
            errors.setdefault(error.field or "", []).append(error.message)
        if errors:
            raise ValidationError(errors)
        assert price is not None and days is not None
        gig = gig_create(
            seller=request.user,
            title=str(raw["title"]),
            description=str(raw["description"]),
            starting_price=price,
            delivery_days=days,
            category=str(raw["category"]),
        )
        return Response(s.GigSerializer(gig).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.GigUpdateInput, responses=s.GigSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change the title, description or category; the packages stay as they are."""
        gig = self.get_object()
        raw = form_data(request)
        title = str(raw.get("title", gig.title))
        description = str(raw.get("description", gig.description))
        category = str(raw.get("category", gig.category))
        errors: dict[str, list[str]] = {}
        for error in gig_terms_errors(
            title=title, description=description, starting_price=None, delivery_days=None, category=category
        ):
            errors.setdefault(error.field or "", []).append(error.message)
        if errors:
            raise ValidationError(errors)
        gig = gig_update(gig=gig, actor=request.user, title=title, description=description, category=category)
        return Response(s.GigSerializer(gig).data)

    @extend_schema(exclude=True)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.partial_update(request, *args, **kwargs)

    @extend_schema(request=s.Empty, responses=s.GigSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        """Take your gig off the list: no new orders until resumed."""
        return Response(s.GigSerializer(gig_pause(gig=self.get_object(), actor=request.user)).data)

    @extend_schema(request=s.Empty, responses=s.GigSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return Response(s.GigSerializer(gig_resume(gig=self.get_object(), actor=request.user)).data)


class EntryPages(CursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200


class LedgerView(APIView):
    """Every line on your own ledger accounts, newest first: what the earnings page's CSV holds."""

    @extend_schema(responses=s.LedgerLineSerializer(many=True))
    def get(self, request: Request) -> Response:
        entries = Entry.objects.filter(account__user=request.user).select_related("transaction", "account")
        paginator = EntryPages()
        page = paginator.paginate_queryset(entries, request, view=self)
        assert page is not None
        lines = [
            {
                "id": entry.pk,
                "date": entry.transaction.created_at,
                "transaction": entry.transaction_id,
                "what": transaction_label(entry.transaction),
                "memo": entry.transaction.memo,
                "account": entry.account.get_kind_display(),
                "amount": entry.amount,
                "milestone": entry.transaction.milestone_id,
            }
            for entry in page
        ]
        return paginator.get_paginated_response(s.LedgerLineSerializer(lines, many=True).data)


class ReceiptView(APIView):
    """The receipt of one of your transactions (the ``transaction`` of a ledger line), as its page
    shows it. Only your own: staff get no one else's through the API."""

    @extend_schema(responses=s.ReceiptSerializer)
    def get(self, request: Request, pk: int) -> Response:
        receipt = receipt_for(request.user, pk)
        if receipt.issued_to.pk != request.user.pk:
            raise Http404(_("No such receipt"))
        return Response(
            s.ReceiptSerializer(
                {
                    "number": receipt.number,
                    "transaction": receipt.transaction_id,
                    "label": receipt.label,
                    "side": receipt.side,
                    "date": receipt.date,
                    "issued_to": receipt.issued_to.username,
                    "counterparty": receipt.counterparty.username if receipt.counterparty else "",
                    "lines": [
                        {"label": line.label, "amount": line.amount, "kind": line.kind} for line in receipt.lines
                    ],
                    "details": [{"label": d.label, "value": d.value} for d in receipt.details],
                    "note": receipt.note,
                    "order": receipt.order_id,
                    "milestone_title": receipt.milestone_title,
                }
            ).data
        )
