"""The inbox (``/messages/``), conversations about a gig before any order
("Contact seller"), and the download of files attached to messages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from accounts.http import AuthedRequest
from accounts.middleware import session_user_id, session_user_pk, viewer_columns
from accounts.models import User
from gigs.selectors import gig_for_viewer
from inbox import selectors, services
from inbox.models import Inquiry, InquiryFile, InquiryMessage
from marketplace.contact import contact_notice
from marketplace.errors import DomainError, DuplicateRequest
from marketplace.forms import show_domain_error
from marketplace.http import not_modified_or
from marketplace.pagination import paginate
from marketplace.storage import serve_file
from notifications.models import Notification
from orders.forms import MessageForm
from orders.models import OrderMessageFile
from orders.selectors import may_read_any_order, order_for_user
from orders.services import staff_file_read_record

CONVERSATIONS_PER_PAGE = 25


@require_safe
@login_required
def inbox(request: AuthedRequest) -> HttpResponse:
    unread_only = request.GET.get("show") == "unread"
    conversations = selectors.conversations_for(request.user, unread_only=unread_only)
    page = paginate(request, conversations, CONVERSATIONS_PER_PAGE)
    notices = Notification.objects.filter(recipient=request.user, event=services.NEW_MESSAGE).aggregate(
        last=Max("id"), unread=Count("id", filter=Q(read_at__isnull=True))
    )
    context = {
        "page": page,
        "conversations": page.object_list,
        "unread_only": unread_only,
        "live_etag": inbox_etag(request.user.pk, notices["last"] or 0, notices["unread"] or 0),
    }
    return render(request, "inbox/inbox.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def inquiry_start(request: AuthedRequest, pk: int) -> HttpResponse:
    """ "Contact seller" on a gig page: a form for the first message, which opens the
    conversation (none is made empty). A buyer who already has one about this gig goes to it."""
    gig = gig_for_viewer(request.user, pk)
    if gig.seller_id == request.user.pk:
        messages.error(request, _("This is your own gig."))
        return redirect("gig_detail", pk=gig.pk)
    existing = Inquiry.objects.filter(gig=gig, buyer=request.user).first()
    if request.method == "GET" and existing is not None:
        return redirect(existing)
    if existing is None and not gig.is_active:
        messages.error(request, _("This gig is paused; its seller is not taking new requests now."))
        return redirect("gig_detail", pk=gig.pk)
    form = MessageForm(request.POST if request.method == "POST" else None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            message = services.inquiry_start(
                gig=gig,
                buyer=request.user,
                body=form.cleaned_data["body"],
                idempotency_key=form.cleaned_data.get("token") or None,
                files=form.cleaned_data.get("attachment") or [],
            )
        except DuplicateRequest as error:
            # The same form twice: the first made the conversation.
            messages.info(request, error.message)
            return redirect(Inquiry.objects.get(gig=gig, buyer=request.user))
        except DomainError as error:
            show_domain_error(request, form, error)
        else:
            return redirect(f"{message.inquiry.get_absolute_url()}#latest")
    status = 400 if request.method == "POST" else 200
    return render(request, "inbox/contact.html", {"gig": gig, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def inquiry_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    inquiry = selectors.inquiry_for(request.user, pk)
    if request.method == "GET" and not inquiry.is_party(request.user):
        # Support staff reading someone else's conversation: always in the staff-read log.
        staff_file_read_record(
            reader=request.user, kind="conversation", file_name=inquiry.gig.title, where=f"inquiry {inquiry.pk}"
        )
    form = MessageForm(request.POST if request.method == "POST" else None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.inquiry_message_send(
                inquiry=inquiry,
                author=request.user,
                body=form.cleaned_data["body"],
                idempotency_key=form.cleaned_data.get("token") or None,
                files=form.cleaned_data.get("attachment") or [],
            )
        except DuplicateRequest as error:
            messages.info(request, error.message)
            return redirect(inquiry)
        except DomainError as error:
            # Refused: the page comes back with the reason and the text as typed, never an empty box.
            show_domain_error(request, form, error)
        else:
            return redirect(f"{inquiry.get_absolute_url()}#latest")
    thread = list(inquiry.messages.select_related("author").prefetch_related("files"))
    for message in thread:
        message.text = message.body  # type: ignore[attr-defined]
        message.notice = contact_notice(message.contact_flag)  # type: ignore[attr-defined]
        message.attached = tuple(message.files.all())  # type: ignore[attr-defined]
    context = {
        "inquiry": inquiry,
        "thread": thread,
        "live_etag": inquiry_etag(inquiry.pk, max((m.pk for m in thread), default=0)),
        "form": form,
        "role": "buyer"
        if request.user.pk == inquiry.buyer_id
        else "seller"
        if inquiry.is_party(request.user)
        else None,
    }
    response = render(request, "inbox/inquiry.html", context, status=400 if form.errors else 200)
    if request.method == "GET":
        services.conversation_read(user=request.user, inquiry=inquiry)
    return response


@require_safe
@login_required
def message_file(request: AuthedRequest, pk: int) -> HttpResponseBase:
    """A file attached to an order's message: its parties and staff; anyone else 404."""
    item = OrderMessageFile.objects.select_related("message").filter(pk=pk).first()
    if item is None:
        raise Http404("No such file")
    order = order_for_user(request.user, item.message.order_id)
    if not order.is_party(request.user):
        staff_file_read_record(reader=request.user, kind="message file", file_name=item.original_name, order=order)
    return serve_file(item.file, item.original_name, item.content_type or "application/octet-stream")


@require_safe
@login_required
def inquiry_file(request: AuthedRequest, pk: int) -> HttpResponseBase:
    """A file attached to a message about a gig: its two parties and staff; anyone else 404."""
    item = InquiryFile.objects.select_related("message").filter(pk=pk).first()
    if item is None:
        raise Http404("No such file")
    inquiry = selectors.inquiry_for(request.user, item.message.inquiry_id)
    if not inquiry.is_party(request.user):
        staff_file_read_record(
            reader=request.user, kind="inquiry file", file_name=item.original_name, where=f"inquiry {inquiry.pk}"
        )
    return serve_file(item.file, item.original_name, item.content_type or "application/octet-stream")


@require_safe
def inquiry_live(request: AuthedRequest, pk: int) -> HttpResponse:
    """The conversation's poll, as the order page's (``order_live``): 304 when
    no message is new, in two queries; else the page for the script."""
    viewer = session_user_pk(request)
    if viewer is None:
        return HttpResponse(status=403)
    row = (
        Inquiry.objects.filter(pk=pk)
        .annotate(
            last=Subquery(InquiryMessage.objects.filter(inquiry_id=OuterRef("pk")).order_by("-id").values("id")[:1]),
            **viewer_columns(viewer),
        )
        .values_list("buyer_id", "seller_id", "last", "viewer_password", "viewer_staff")
        .first()
    )
    if row is None:
        raise Http404("No such conversation")
    buyer_id, seller_id, last, password, staff = row
    if session_user_id(request, password) is None:
        return HttpResponse(status=403)
    if viewer not in (buyer_id, seller_id) and not (staff and may_read_any_order(request.user)):
        raise Http404("No such conversation")
    return not_modified_or(request, inquiry_etag(pk, last or 0), lambda: inquiry_detail(request, pk))


def inquiry_etag(pk: int, last: int) -> str:
    return f'"inquiry-{pk}-{last}"'


@require_safe
def inbox_live(request: AuthedRequest) -> HttpResponse:
    """The inbox's poll: 304 while no message arrived and none was read, in two queries."""
    viewer = session_user_pk(request)
    if viewer is None:
        return HttpResponse(status=403)
    notices = Notification.objects.filter(recipient_id=viewer, event=services.NEW_MESSAGE)
    row = (
        User.objects.filter(pk=viewer, is_active=True)
        .annotate(
            last=Subquery(notices.order_by("-id").values("id")[:1]),
            unread=Subquery(
                notices.filter(read_at__isnull=True).values("recipient_id").annotate(n=Count("id")).values("n")[:1]
            ),
        )
        .values_list("password", "last", "unread")
        .first()
    )
    if row is None or session_user_id(request, row[0]) is None:
        return HttpResponse(status=403)
    return not_modified_or(request, inbox_etag(viewer, row[1] or 0, row[2] or 0), lambda: inbox(request))


def inbox_etag(user_id: int, last: int, unread: int) -> str:
    return f'"inbox-{user_id}-{last}-{unread}"'
