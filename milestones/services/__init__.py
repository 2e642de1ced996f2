"""Every write on milestones, one module per topic. Each service, in one
``transaction.atomic()`` (docs/ARCHITECTURE.md, "Rules every write follows"):

1. locks the order, then the milestone (``lock_order``, ``lock_milestone``);
2. checks the actor's right to act, then the input;
3. applies the django-fsm transition (which refuses a second click: the
   state it needs is gone);
4. moves money through ``payments.services`` (which locks the accounts last);
5. writes the activity log and the notifications;
6. leaves e-mails and tasks to ``transaction.on_commit``.

A ``DomainError`` leaves everything as it was.

- ``steps``: what every service above shares (the transition, its save, the
  log, the notice, the settlement, starting the next phase).
- ``creation``: the rules of a milestone's terms, and the buyer adding one.
- ``lifecycle``: the seller's answer, the work, the buyer's review, the late flag.
- ``offers``: a milestone the seller proposes and the buyer pays.
- ``proposals``: changes of terms one party asks and the other answers
  (an extension, a cancellation by agreement); ``changes``: the seller's
  changes before acceptance, which may move money.
- ``disputes``: opening one, the parties' statements, staff's decision.
- ``completion``: the order as a whole, by the buyer or by itself.
- ``purposes``: what a paid or expired checkout does (registered with
  ``payments.checkout`` in ``apps.py``); ``tips``: thanking a seller with money.

Callers import from the topic module; this package re-exports nothing.
"""
