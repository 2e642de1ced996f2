"""Reads behind the two dashboards.

Every function here runs a fixed number of queries, however many orders and
milestones the user has: counts come from one aggregate, lists are capped and
``select_related`` what the templates show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_lazy
from djmoney.money import Money

from accounts.models import User
from gigs.models import Gig, SavedGig
from milestones.models import PARTY_LIST_BY_NAME, Milestone, MilestoneState, is_overdue, milestone_url
from orders.models import Activity, Order, OrderStatus

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise


@dataclass(frozen=True)
class Section:
    """One list on a dashboard: which milestones, and what the user should do."""

    key: str
    title: StrOrPromise
    hint: StrOrPromise
    # Its partial index (``milestones.models.PARTY_LISTS``), which says the states it lists and their order.
    index: str
    # The user must act on these (the rest wait on the other party).
    needs_action: bool = False

    @property
    def pages_label(self) -> str:
        """The name of its pages' navigation ("To review pages")."""
        return gettext("{section} pages").format(section=self.title)

    @property
    def states(self) -> tuple[str, ...]:
        return PARTY_LIST_BY_NAME[self.index][1]

    @property
    def order_by(self) -> tuple[str, ...]:
        return PARTY_LIST_BY_NAME[self.index][2]


BUYER_SECTIONS = (
    Section(
        "to_review",
        gettext_lazy("To review"),
        gettext_lazy("Approve the work or ask for a revision."),
        "ms_b_review",
        needs_action=True,
    ),
    Section("in_progress", gettext_lazy("In progress"), gettext_lazy("The seller is working on these."), "ms_b_work"),
    Section(
        "awaiting_acceptance",
        gettext_lazy("Awaiting acceptance"),
        gettext_lazy("Funded; waiting for the seller to accept."),
        "ms_b_accept",
    ),
    Section("disputed", gettext_lazy("In dispute"), gettext_lazy("Staff are looking at these."), "ms_b_dispute"),
    Section(
        "offers",
        gettext_lazy("Offers"),
        gettext_lazy("The seller proposes these: accept and pay to start them, or decline. Unanswered offers expire."),
        "ms_b_offer",
        needs_action=True,
    ),
    Section(
        "awaiting_payment",
        gettext_lazy("Awaiting payment"),
        gettext_lazy(
            "Not paid yet: pay to send them to the seller, or cancel them. Unpaid ones close when the checkout expires."
        ),
        "ms_b_unpaid",
        needs_action=True,
    ),
)

SELLER_SECTIONS = (
    Section(
        "to_accept",
        gettext_lazy("To accept"),
        gettext_lazy("Accept to start work, or decline."),
        "ms_s_accept",
        needs_action=True,
    ),
    Section("in_progress", gettext_lazy("In progress"), gettext_lazy("Deliver before the deadline."), "ms_s_work"),
    Section(
        "revision_requested",
        gettext_lazy("Revision requested"),
        gettext_lazy("The buyer asked for changes."),
        "ms_s_revision",
        needs_action=True,
    ),
    Section(
        "in_review",
        gettext_lazy("In review"),
        gettext_lazy("Waiting for the buyer; approved automatically if they stay silent."),
        "ms_s_review",
    ),
    Section("disputed", gettext_lazy("In dispute"), gettext_lazy("Staff are looking at these."), "ms_s_dispute"),
    Section(
        "offered",
        gettext_lazy("Offers sent"),
        gettext_lazy("Waiting for the buyer to accept and pay, or decline."),
        "ms_s_offer",
    ),
)


# Counts on the dashboards stop here ("1,000+"): past it, the number tells nothing
# a user acts on, and counting further costs time that grows with their history.
COUNT_CAP = 1000


def count_words(count: int) -> str:
    """A count as the reader's language groups digits ("1,000+", "1.000+")."""
    if count > COUNT_CAP:
        return gettext("{count}+").format(count=_grouped(COUNT_CAP))
    return _grouped(count)


def _grouped(count: int) -> str:
    return number_format(count, force_grouping=True)


@dataclass(frozen=True)
class Row:
    """One milestone as a dashboard lists it: the columns the row shows and
    nothing else, read with its order's title and the other party's name in
    the same statement."""

    pk: int
    order_id: int
    title: str
    state: str
    amount: Money
    deadline: datetime
    auto_approve_at: datetime | None
    created_at: datetime
    offer_expires_at: datetime | None
    order_title: str
    other_party: str

    def get_absolute_url(self) -> str:
        return milestone_url(self.order_id, self.pk)

    def get_state_display(self) -> str:
        return str(MilestoneState(self.state).label)

    @property
    def is_overdue(self) -> bool:
        return is_overdue(self.state, self.deadline)


CENT = Decimal("0.01")


@dataclass
class SectionData:
    """One section as shown: its count, and one page of its milestones.

    Pages need no count query of their own: the count comes from the
    dashboard's aggregate."""

    section: Section
    count: int
    milestones: list[Row] = field(default_factory=list)
    page: int = 1
    per_page: int = 0

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.milestones))

    @property
    def count_label(self) -> str:
        return count_words(self.count)

    @property
    def more_label(self) -> str:
        if self.count > COUNT_CAP:
            return gettext("{count}+").format(count=_grouped(self.more))
        return _grouped(self.more)

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.per_page)) if self.per_page else 1

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def page_param(self) -> str:
        return f"{self.section.key}_page"


def page_number(value: str | int | None, *, last: int | None = None) -> int:
    """A 1-based page number from a query parameter; junk means 1."""
    try:
        number = max(1, int(value or 1))
    except (TypeError, ValueError):
        return 1
    return min(number, last) if last else number


@dataclass
class Dashboard:
    role: str
    sections: list[SectionData]
    orders_without_milestone: int

    @property
    def total(self) -> int:
        return sum(s.count for s in self.sections)

    @property
    def orders_without_milestone_label(self) -> str:
        return count_words(self.orders_without_milestone)

    def __getitem__(self, key: str) -> SectionData:
        for data in self.sections:
            if data.section.key == key:
                return data
        raise KeyError(key)


_M = Milestone._meta.db_table
_O = Order._meta.db_table
_U = User._meta.db_table
_A = Activity._meta.db_table
_G = Gig._meta.db_table
_S = SavedGig._meta.db_table


def _list_sql(role: str, section: Section) -> str:
    """One section's page, straight off its partial index (``milestones.models.PARTY_LISTS``):
    the ten rows are found in the index's order, then joined to their order and the other party."""
    party, other = ("buyer_id", "seller_id") if role == "buyer" else ("seller_id", "buyer_id")
    order = ", ".join(f"m.{name}" for name in section.order_by)
    states = ", ".join(["%s"] * len(section.states))
    # Table and column names from the models and the sections' constants; every value is a parameter.
    # A subquery in FROM, not a parenthesised SELECT: SQLite (the embedded default) takes only the former.
    return (
        "SELECT * FROM (SELECT %s, m.id, m.order_id, m.title, m.state, m.amount, m.amount_currency, "  # noqa: S608
        "m.deadline, m.auto_approve_at, m.created_at, m.offer_expires_at, o.title, u.username "
        f"FROM {_M} m JOIN {_O} o ON o.id = m.order_id JOIN {_U} u ON u.id = m.{other} "
        f"WHERE m.{party} = %s AND m.state IN ({states}) ORDER BY {order} LIMIT %s OFFSET %s) AS s"
    )


def _capped_count(table: str, where: str) -> str:
    # Counting stops one past the cap: reading 10,000 index entries to print "10,000" costs what a page does.
    return f"(SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {where} LIMIT {COUNT_CAP + 1}) AS c)"  # noqa: S608


def _counts(user: User, role: str, sections: tuple[Section, ...]) -> tuple[dict[str, int], int]:
    """Each section's count (off its own index) and the orders still waiting for
    a first milestone, each counted up to ``COUNT_CAP + 1``, in one statement."""
    party = "buyer_id" if role == "buyer" else "seller_id"
    columns: list[str] = []
    params: list[int | str] = []
    for section in sections:
        columns.append(_capped_count(_M, f"{party} = %s AND state IN ({', '.join(['%s'] * len(section.states))})"))
        params += [user.pk, *section.states]
    columns.append(_capped_count(_O, f"{party} = %s AND status = %s"))
    params += [user.pk, OrderStatus.AWAITING_MILESTONE]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", params)
        *numbers, waiting = cursor.fetchone()
    return {section.key: n for section, n in zip(sections, numbers, strict=True)}, waiting


def _section_rows(user: User, role: str, wanted: list[tuple[Section, int, int]]) -> dict[str, list[Row]]:
    """Every wanted section's page of rows, in one statement (``UNION ALL`` of one indexed read each)."""
    rows: dict[str, list[Row]] = {section.key: [] for section, _, _ in wanted}
    if not wanted:
        return rows
    sql = " UNION ALL ".join(_list_sql(role, section) for section, _, _ in wanted)
    params: list = []
    for section, limit, start in wanted:
        params += [section.key, user.pk, *section.states, limit, start]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for (
            key,
            pk,
            order_id,
            title,
            state,
            amount,
            currency,
            deadline,
            auto_at,
            created,
            expires,
            order_title,
            other,
        ) in cursor.fetchall():
            rows[key].append(
                Row(
                    pk=pk,
                    order_id=order_id,
                    title=title,
                    state=state,
                    amount=Money(Decimal(str(amount)).quantize(CENT), currency),
                    deadline=_aware(deadline),
                    auto_approve_at=_aware(auto_at),
                    created_at=_aware(created),
                    offer_expires_at=_aware(expires),
                    order_title=order_title,
                    other_party=other,
                )
            )
    # Each section in its own order: UNION ALL promises none across its branches.
    for section, _, _ in wanted:
        rows[section.key].sort(key=lambda row, by=section.order_by: _sort_key(row, by))
    return rows


def _aware(value):
    """A datetime as the ORM would give it (SQLite's raw rows are strings or naive)."""
    if value is None or not isinstance(value, datetime | str):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value


def _sort_key(row: Row, order_by: tuple[str, ...]) -> tuple:
    # NULLs last, as PostgreSQL sorts an ascending column.
    values = [getattr(row, "pk" if name == "id" else name) for name in order_by]
    return tuple((value is None, value) for value in values)


def dashboard_for(
    user: User,
    role: str,
    *,
    limit: int = 10,
    sections: tuple[str, ...] | None = None,
    pages: Mapping[str, str] | None = None,
) -> Dashboard:
    """The buyer's or the seller's dashboard: a count per section (one
    aggregate), then one page of ``limit`` milestones for each wanted section
    (``pages["<key>_page"]`` picks the page), all in one statement, with their
    order's title and the other party's name.

    Both read the milestones' own copy of the parties (``Milestone.buyer`` and
    ``seller``) on indexes made for them, so the cost does not grow with the
    user's history of closed orders."""
    pages = pages or {}
    all_sections = BUYER_SECTIONS if role == "buyer" else SELLER_SECTIONS
    counts, waiting = _counts(user, role, all_sections)
    result = []
    wanted: list[tuple[Section, int, int]] = []
    for section in all_sections:
        data = SectionData(section=section, count=counts[section.key], per_page=limit)
        data.page = page_number(pages.get(data.page_param), last=data.pages)
        # Read even when the count is zero, so the statement is the same for every user.
        if (sections is None or section.key in sections) and limit:
            wanted.append((section, limit, (data.page - 1) * limit))
        result.append(data)
    rows = _section_rows(user, role, wanted)
    for data in result:
        data.milestones = rows.get(data.section.key, [])
    return Dashboard(role=role, sections=result, orders_without_milestone=waiting)


def orders_without_milestone(user: User, role: str, *, limit: int = 10, page: int = 1) -> list[Order]:
    order_party = Q(buyer=user) if role == "buyer" else Q(seller=user)
    start = (page - 1) * limit
    return list(
        Order.objects.filter(order_party, status=OrderStatus.AWAITING_MILESTONE)
        .select_related("buyer", "seller")
        .only("title", "created_at", "buyer__username", "seller__username")
        .order_by("-updated_at", "-pk")[start : start + limit]
    )


def dashboard_version(user: User, role: str) -> tuple[int | str, ...]:
    """What the ``role`` dashboard of ``user`` shows, named in one query, so its rendered parts are
    reused until it moves (``dashboards.views``).

    Both roles: the id of the latest activity on an order where ``user`` is that party. Every change
    the sections show (a milestone's state, terms or deadline; an order opened) logs one. One probe
    of ``activity_buyer_latest`` or ``activity_seller_latest``.

    The seller's also has their gigs, which log no activity: how many there are (a gig deleted) and
    the latest ``Gig.updated_at`` (one published, edited, paused, resumed, retired or unlisted),
    read in the same statement on the gigs' seller index (a seller has few); and their saves: how
    many, and the latest id. A save always takes a higher id than any before it, so a set of saves
    with the same count and the same latest id is the same set (an unsave lowers the count, a save
    raises the latest id).

    Two transactions may commit in the other order than they took their ids (or their clocks read
    ``updated_at``); the one committed second then shows when the page's window
    (``PAGE_CACHE_SECONDS``) ends."""
    party = "buyer_id" if role == "buyer" else "seller_id"
    columns, params = [f"({_latest_activity_sql(party)})"], [user.pk, user.pk]
    if role == "seller":
        columns += _SELLER_GIGS
        params += [user.pk] * len(_SELLER_GIGS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(columns), params)
        latest_id, *gigs = cursor.fetchone()
    if not gigs:
        return (latest_id or 0,)
    count, written, saves, latest_save = gigs
    # As text without spaces (the cache's keys take none); SQLite gives it as text already.
    return (latest_id or 0, count, _aware(written).isoformat() if written else "", saves, latest_save or 0)


# The seller's gigs in the version: how many (one deleted) and the latest write (any other change);
# their saves: how many and the latest (a save or an unsave).
_SELLER_GIGS = [
    f"(SELECT count(*) FROM {_G} WHERE seller_id = %s)",  # noqa: S608 - our table
    f"(SELECT max(updated_at) FROM {_G} WHERE seller_id = %s)",  # noqa: S608 - our table
    f"(SELECT count(*) FROM {_S} s JOIN {_G} g ON g.id = s.gig_id WHERE g.seller_id = %s)",  # noqa: S608 - ours
    f"(SELECT max(s.id) FROM {_S} s JOIN {_G} g ON g.id = s.gig_id WHERE g.seller_id = %s)",  # noqa: S608 - ours
]


def _latest_activity_sql(column: str) -> str:
    """The party's latest activity id (two parameters, both the user's id), always read from the
    end of ``activity_<party>_latest``. Written as ``max(id) WHERE column = %s``, PostgreSQL walked
    the primary key backwards instead whenever the user owned much of the log (0.6 ms at the bench's
    seller with 10,000 orders, growing with everyone else's activity since theirs); a range on the
    column with the index's own order leaves it no other index to read."""
    return (
        f"SELECT id FROM {_A} WHERE {column} >= %s AND {column} <= %s "  # noqa: S608 - ours
        f"ORDER BY {column} DESC, id DESC LIMIT 1"
    )
