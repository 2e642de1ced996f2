"""What the API answers (read-only representations) and the documented shape of what it accepts.

Input is parsed by the pages' own forms (``endpoints.parsed``), so that a bad field gets the
words the page would show; the request serializers here only describe it in the schema.
"""

from __future__ import annotations

from djmoney.money import Money
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.models import ApiToken
from gigs.models import Gig
from milestones.models import Milestone, Proposal
from notifications.models import Notification
from orders.models import Order, OrderMessage


@extend_schema_field(
    {
        "type": "object",
        "properties": {"amount": {"type": "string", "example": "120.00"}, "currency": {"type": "string"}},
        "required": ["amount", "currency"],
    }
)
class MoneyField(serializers.Field):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Money) -> dict[str, str]:
        return {"amount": f"{value.amount:.2f}", "currency": str(value.currency)}


class UserRef(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)


class OrderSerializer(serializers.ModelSerializer):
    buyer = UserRef(read_only=True)
    seller = UserRef(read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "title",
            "brief",
            "currency",
            "status",
            "buyer",
            "seller",
            "role",
            "gig",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_role(self, order: Order) -> str:
        return order.role_of(self.context["request"].user) or ""


class MilestoneSerializer(serializers.ModelSerializer):
    amount = MoneyField()
    buyer_fee = MoneyField()

    class Meta:
        model = Milestone
        fields = [
            "id",
            "order",
            "position",
            "title",
            "description",
            "deadline",
            "amount",
            "buyer_fee",
            "state",
            "created_at",
            "accepted_at",
            "started_at",
            "submitted_at",
            "approved_at",
            "closed_at",
            "auto_approve_at",
            "revision_count",
        ]
        read_only_fields = fields


class CreatedMilestoneSerializer(MilestoneSerializer):
    checkout_url = serializers.SerializerMethodField()

    class Meta(MilestoneSerializer.Meta):
        fields = [*MilestoneSerializer.Meta.fields, "checkout_url"]
        read_only_fields = fields

    def get_checkout_url(self, milestone: Milestone) -> str | None:
        return self.context.get("checkout_url")


class GigSerializer(serializers.ModelSerializer):
    seller = serializers.CharField(source="seller.username", read_only=True)
    starting_price = MoneyField()
    paused = serializers.BooleanField(source="is_paused", read_only=True)

    class Meta:
        model = Gig
        fields = [
            "id",
            "seller",
            "title",
            "description",
            "category",
            "starting_price",
            "delivery_days",
            "paused",
            "created_at",
        ]
        read_only_fields = fields


class GigCreateInput(serializers.Serializer):
    title = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=5000)
    category = serializers.CharField()
    starting_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField(required=False)
    delivery_days = serializers.IntegerField(min_value=1, max_value=365)


class GigUpdateInput(serializers.Serializer):
    title = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=5000, required=False)
    category = serializers.CharField(required=False)


class ProposalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Proposal
        fields = ["id", "milestone", "kind", "state", "created_at"]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)
    files = serializers.SerializerMethodField()

    class Meta:
        model = OrderMessage
        fields = ["id", "order", "author", "body", "created_at", "files"]
        read_only_fields = fields

    def get_files(self, message: OrderMessage) -> list[str]:
        return [f.original_name for f in message.files.all()]


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "event", "message", "url", "created_at", "read_at"]
        read_only_fields = fields


class TokenInfoSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["name", "scope", "prefix", "created_at", "last_used_at"]
        read_only_fields = fields


class LedgerLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateTimeField()
    transaction = serializers.IntegerField()
    what = serializers.CharField()
    memo = serializers.CharField()
    account = serializers.CharField()
    amount = MoneyField()
    milestone = serializers.IntegerField(allow_null=True)


class ReceiptLineSerializer(serializers.Serializer):
    label = serializers.CharField()
    amount = MoneyField()
    kind = serializers.CharField()


class ReceiptDetailSerializer(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.CharField()


class ReceiptSerializer(serializers.Serializer):
    number = serializers.CharField()
    transaction = serializers.IntegerField()
    label = serializers.CharField()
    side = serializers.CharField()
    date = serializers.DateTimeField()
    issued_to = serializers.CharField()
    counterparty = serializers.CharField()
    lines = ReceiptLineSerializer(many=True)
    details = ReceiptDetailSerializer(many=True)
    note = serializers.CharField()
    order = serializers.IntegerField(allow_null=True)
    milestone_title = serializers.CharField()


# --- the documented input (parsed by the pages' forms) -----------------------------------


class MilestoneCreateInput(serializers.Serializer):
    order = serializers.IntegerField()
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10000)
    deadline = serializers.DateTimeField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    pay_with = serializers.ChoiceField(choices=["balance", "card"], default="balance")


class OfferCreateInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10000)
    deadline = serializers.DateTimeField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class SubmitInput(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True)
    links = serializers.ListField(child=serializers.URLField(), required=False)
    files = serializers.ListField(child=serializers.FileField(), required=False)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField()


class OptionalReasonInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True)


class FeedbackInput(serializers.Serializer):
    feedback = serializers.CharField()


class ApproveInput(serializers.Serializer):
    portfolio = serializers.BooleanField(required=False, default=False)


class CancelInput(serializers.Serializer):
    refund_to = serializers.ChoiceField(choices=["balance", "card"], required=False)


class DisputeInput(serializers.Serializer):
    reason = serializers.CharField()
    attachment = serializers.FileField(required=False)


class ChangesInput(serializers.Serializer):
    deadline = serializers.DateTimeField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    description = serializers.CharField()


class ExtensionInput(serializers.Serializer):
    new_deadline = serializers.DateTimeField()
    reason = serializers.CharField()


class CancellationInput(serializers.Serializer):
    refund = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    refund_to = serializers.ChoiceField(choices=["", "balance", "card"], required=False)
    reason = serializers.CharField()


class MessageInput(serializers.Serializer):
    body = serializers.CharField()
    attachment = serializers.ListField(child=serializers.FileField(), required=False)


class Empty(serializers.Serializer):
    pass
