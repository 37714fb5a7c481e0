"""The pure identity merge (righttime.core.identity): what an anonymous profile brings to a known one, what
its waiting messages become, and when two profiles are not merged (docs/identity.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from righttime.core.campaigns import Kind
from righttime.core.decisions import Decision, MessageStatus, OutboundMessage, Outcome, Reason, ReasonCode
from righttime.core.events import AliasMessage, IdentifyMessage, PageMessage, QueuedEvent, TrackMessage
from righttime.core.identity import IDENTITY, combine, link, merge_profiles, needs_link, other_id
from righttime.core.policy import Move, Plan
from righttime.core.profiles import (
    MAX_CART_ITEMS,
    MAX_RECENT_EVENTS,
    AwaitingTrigger,
    CampaignHistory,
    CartItem,
    ConsentChange,
    PendingRef,
    Profile,
    ProgramRun,
    SendRecord,
    apply_event,
    event_fingerprint,
)
from righttime.core.report import ticks

NOW = datetime(2026, 11, 18, 10, tzinfo=UTC)


def _queued(message: AliasMessage | IdentifyMessage | TrackMessage | PageMessage) -> QueuedEvent:
    return QueuedEvent(message=message, received_at=NOW, occurred_at=NOW)


def _alias(previous: str = "anon-1", user: str = "ann", message_id: str = "alias-1") -> QueuedEvent:
    return _queued(AliasMessage(userId=user, previousId=previous, messageId=message_id))


def _line(product: str, quantity: int = 1) -> CartItem:
    return CartItem(product_id=product, quantity=quantity, price=Decimal(10))


def _message(customer: str, message_id: str, campaign: str = "cart_abandonment") -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id,
        customer_id=customer,
        campaign_id=campaign,
        kind=Kind.PROMOTIONAL,
        template="cart_abandonment",
        send_at=NOW + timedelta(hours=1),
        created_at=NOW - timedelta(minutes=5),
        updated_at=NOW - timedelta(minutes=5),
        trigger_event="Product Added",
        trigger_message_id=f"trigger-{message_id}",
        trigger_at=NOW - timedelta(minutes=5),
        to="guest@example.com",
    )


def _waiting(profile: Profile, message: OutboundMessage) -> None:
    ref = PendingRef(
        campaign_id=message.campaign_id,
        message_id=message.message_id,
        send_at=message.send_at,
        trigger_at=message.trigger_at,
    )
    profile.pending[ref.key] = ref


# -- which ids an event links ------------------------------------------------------------------------------


def test_alias_and_calls_naming_both_ids_link_them_and_others_do_not():
    # Given an alias, calls that name both ids, and calls that name one
    both = {"userId": "ann", "anonymousId": "anon-1", "messageId": "m"}
    # Then alias links previousId, and identify, track and page link the anonymousId
    assert other_id(_alias()) == "anon-1"
    assert other_id(_queued(IdentifyMessage(**both))) == "anon-1"
    assert other_id(_queued(TrackMessage(event="Product Added", **both))) == "anon-1"
    assert other_id(_queued(PageMessage(type="page", **both))) == "anon-1"
    # And a call with one id, or the same id twice, links nothing
    assert other_id(_queued(IdentifyMessage(anonymousId="anon-1", messageId="m"))) is None
    assert other_id(_queued(IdentifyMessage(userId="ann", anonymousId="ann", messageId="m"))) is None


def test_an_id_linked_once_is_not_looked_at_again():
    # Given a known profile that linked anon-1 already
    profile = Profile(customer_id="ann", known=True, linked_ids=["anon-1"])
    # Then a browser's next call naming both ids needs no second look, but a new anonymous id does
    assert needs_link(profile, _alias()) is None
    assert needs_link(profile, _alias(previous="anon-2")) == "anon-2"


def test_a_userid_makes_a_profile_known_and_an_anonymous_call_does_not():
    # Given a new profile keyed by an anonymousId, and one keyed by a userId
    anonymous = apply_event(
        Profile(customer_id="anon-1"), _queued(PageMessage(type="page", anonymousId="anon-1"))
    )
    known = apply_event(Profile(customer_id="ann"), _queued(PageMessage(type="page", userId="ann")))
    # Then only the second is known
    assert (anonymous.known, known.known) == (False, True)


# -- what the merged profile holds ---------------------------------------------------------------------------


def test_the_carts_are_united_and_the_newer_cart_wins_a_product_both_hold():
    # Given a known cart updated at 09:00 and an anonymous one updated at 09:30, both with a kettle
    known = Profile(
        customer_id="ann", cart=[_line("kettle", 1), _line("mug")], cart_updated_at=NOW - timedelta(hours=1)
    )
    anonymous = Profile(
        customer_id="anon-1",
        cart=[_line("kettle", 3), _line("pan")],
        cart_updated_at=NOW - timedelta(minutes=30),
    )
    # When they are merged
    merged = merge_profiles(known, anonymous, NOW)
    # Then every product is there once, the kettle with the newer cart's quantity
    assert {line.product_id: line.quantity for line in merged.cart} == {"mug": 1, "kettle": 3, "pan": 1}
    assert merged.cart_updated_at == anonymous.cart_updated_at


def test_an_anonymous_cart_from_before_the_known_customers_last_order_is_not_brought_back():
    # Given a customer who ordered at 09:30, and an anonymous cart last changed at 09:00
    known = Profile(customer_id="ann", last_order_at=NOW - timedelta(minutes=30), orders_count=1)
    anonymous = Profile(customer_id="anon-1", cart=[_line("pan")], cart_updated_at=NOW - timedelta(hours=1))
    # Then the merge leaves the settled cart out
    assert merge_profiles(known, anonymous, NOW).cart == []


@given(
    known=st.integers(0, MAX_CART_ITEMS), anonymous=st.integers(0, MAX_CART_ITEMS), shared=st.integers(0, 60)
)
def test_the_merged_cart_never_passes_its_bound_and_holds_each_product_once(
    known: int, anonymous: int, shared: int
):
    # Given two carts of any size a profile holds, sharing some products
    mine = Profile(customer_id="ann", cart=[_line(f"k{i}") for i in range(known)], cart_updated_at=NOW)
    theirs = Profile(
        customer_id="anon-1",
        cart=[_line(f"k{i}" if i < shared else f"a{i}") for i in range(anonymous)],
        cart_updated_at=NOW + timedelta(seconds=1),
    )
    # When they are merged
    cart = merge_profiles(mine, theirs, NOW).cart
    # Then the cart keeps at most 50 lines, each product once, and all of the newer cart fits first
    ids = [line.product_id for line in cart]
    assert len(ids) == len(set(ids)) <= MAX_CART_ITEMS
    assert {line.product_id for line in theirs.cart[-MAX_CART_ITEMS:]} <= set(ids)


def test_traits_and_the_address_come_only_where_the_known_profile_lacks_them():
    known = Profile(customer_id="ann", email="ann@example.com", traits={"plan": "gold"})
    anonymous = Profile(
        customer_id="anon-1",
        email="guest@example.com",
        first_name="Ann",
        traits={"plan": "free", "size": "M"},
    )
    merged = merge_profiles(known, anonymous, NOW)
    assert merged.email == "ann@example.com" and merged.first_name == "Ann"
    assert merged.traits == {"plan": "gold", "size": "M"}


def test_the_stricter_consent_wins_and_the_merge_is_recorded_as_evidence():
    # Given a subscribed customer, and an anonymous visitor who unsubscribed and opted out of one topic
    change = ConsentChange(at=NOW - timedelta(days=1), subscribed=False, how="identify")
    known = Profile(customer_id="ann", email="ann@example.com", topic_opt_outs=["news"])
    anonymous = Profile(
        customer_id="anon-1", unsubscribed=True, topic_opt_outs=["reminders"], consent_history=[change]
    )
    # When they are merged
    merged = merge_profiles(known, anonymous, NOW)
    # Then the customer is unsubscribed, opted out of both topics, and the history says why
    assert merged.unsubscribed and sorted(merged.topic_opt_outs) == ["news", "reminders"]
    assert [(c.how, c.subscribed, c.topic) for c in merged.consent_history] == [
        ("identify", False, None),
        ("merge", False, None),
        ("merge", False, "reminders"),
    ]


def test_a_subscribed_visitor_never_resubscribes_an_unsubscribed_customer():
    known = Profile(customer_id="ann", unsubscribed=True)
    assert merge_profiles(known, Profile(customer_id="anon-1"), NOW).unsubscribed


def test_sends_and_history_of_both_count_for_caps_and_reentry():
    # Given one send on each profile, the same campaign
    sent = NOW - timedelta(hours=2)
    known = Profile(
        customer_id="ann",
        sends=[SendRecord(at=sent, campaign_id="browse", message_id="m1")],
        history={"browse": CampaignHistory(last_sent_at=sent, sent_count=1, keys=["a"])},
    )
    anonymous = Profile(
        customer_id="anon-1",
        sends=[SendRecord(at=sent + timedelta(minutes=1), campaign_id="browse", message_id="m2")],
        history={
            "browse": CampaignHistory(last_sent_at=sent + timedelta(minutes=1), sent_count=1, keys=["b"])
        },
    )
    merged = merge_profiles(known, anonymous, NOW)
    assert [s.message_id for s in merged.sends] == ["m1", "m2"]
    history = merged.history["browse"]
    assert (history.sent_count, history.last_sent_at, sorted(history.keys)) == (
        2,
        sent + timedelta(minutes=1),
        ["a", "b"],
    )


def test_an_event_either_profile_processed_stays_a_duplicate():
    # Given each profile's recent messageIds
    known = Profile(customer_id="ann", recent_events=[event_fingerprint(f"k{i}") for i in range(30)])
    anonymous = Profile(customer_id="anon-1", recent_events=[event_fingerprint(f"a{i}") for i in range(5)])
    # When merged
    merged = merge_profiles(known, anonymous, NOW)
    # Then both profiles' events are remembered, within the bound
    assert merged.has_processed("k29") and merged.has_processed("a4")
    assert len(merged.recent_events) <= MAX_RECENT_EVENTS


# -- linking: waiting messages, tombstone, decisions ---------------------------------------------------------


def test_a_waiting_message_moves_to_the_known_profile_under_a_new_id_and_the_old_one_is_closed():
    # Given a guest (anonymous, with an address) waiting for a cart reminder; a known customer with none
    anonymous = Profile(customer_id="anon-1", email="guest@example.com", version=3)
    waiting = _message("anon-1", "m-anon")
    _waiting(anonymous, waiting)
    known = Profile(customer_id="ann", known=True, email="ann@example.com", version=7)
    # When anon-1 is aliased to ann
    linked = link(known, anonymous, {"m-anon": waiting}, NOW, _alias())
    linked.record_merge(0, NOW, _alias())
    # Then the known profile waits for one new message, at the same time, to its own address
    (moved,) = linked.known.schedule
    assert moved.customer_id == "ann" and moved.message_id != "m-anon"
    assert (moved.send_at, moved.to, moved.generation) == (waiting.send_at, "ann@example.com", 0)
    assert [ref.message_id for ref in linked.known.profile.pending.values()] == [moved.message_id]
    # And the anonymous message is closed, and the anonymous profile is a tombstone pointing at ann
    assert linked.other is not None
    assert [(mid, status) for mid, status, _ in linked.other.close] == [("m-anon", MessageStatus.CANCELLED)]
    tombstone = linked.other.profile
    assert (tombstone.merged_into, tombstone.pending, tombstone.email) == ("ann", {}, None)
    # And both sides record the merge first, then the moved message
    assert [(d.campaign_id, d.outcome) for d in linked.known.decisions] == [
        (IDENTITY, Outcome.MERGED),
        ("cart_abandonment", Outcome.MERGED),
    ]
    assert linked.known.decisions[0].reasons[0].detail["moved"] == 1
    assert [d.customer_id for d in linked.other.decisions] == ["anon-1", "anon-1"]


def test_a_duplicate_waiting_message_is_cancelled_so_the_customer_gets_one_reminder():
    # Given both profiles waiting for a cart reminder
    anonymous = Profile(customer_id="anon-1", email="guest@example.com", version=2)
    theirs = _message("anon-1", "m-anon")
    _waiting(anonymous, theirs)
    known = Profile(customer_id="ann", known=True, email="ann@example.com", version=4)
    _waiting(known, _message("ann", "m-known"))
    # When they are linked
    linked = link(known, anonymous, {"m-anon": theirs}, NOW, _alias())
    # Then nothing new waits on the known profile, which keeps its own reminder
    assert linked.known.schedule == []
    assert [ref.message_id for ref in linked.known.profile.pending.values()] == ["m-known"]
    # And the anonymous one is cancelled as a merged duplicate, naming the one that stays
    assert linked.other is not None
    ((mid, status, decision),) = linked.other.close
    assert (mid, status, decision.outcome) == ("m-anon", MessageStatus.CANCELLED, Outcome.CANCELLED)
    assert decision.reasons[0].code is ReasonCode.MERGED_DUPLICATE
    assert decision.reasons[0].detail == {"into": "ann", "message_id": "m-known"}


def test_a_message_being_sent_is_left_to_the_sender():
    # Given an anonymous message claimed by the sender when the alias arrives
    anonymous = Profile(customer_id="anon-1", version=2)
    sending = _message("anon-1", "m-anon").model_copy(update={"status": MessageStatus.SENDING})
    _waiting(anonymous, sending)
    linked = link(
        Profile(customer_id="ann", known=True, version=1), anonymous, {"m-anon": sending}, NOW, _alias()
    )
    # Then it neither moves nor closes
    assert linked.known.schedule == [] and linked.other is not None and linked.other.close == []


def test_two_known_profiles_are_not_merged_and_the_decision_says_why():
    # Given two customers, each addressed by a userId
    kai = Profile(customer_id="kai", known=True, email="kai@example.com", cart=[_line("pan")], version=3)
    work = Profile(customer_id="kai.work", known=True, email="kai@work.example.com", version=2)
    # When one is aliased to the other
    linked = link(work, kai, {}, NOW, _alias(previous="kai", user="kai.work"))
    # Then nothing of kai's moves, kai's profile is not written, and a not_merged decision is recorded
    assert linked.other is None and linked.known.profile.cart == []
    (decision,) = linked.known.decisions
    assert (decision.outcome, decision.campaign_id, decision.reason_codes) == (
        Outcome.NOT_MERGED,
        IDENTITY,
        ["both_known"],
    )
    assert "kai" in linked.known.profile.linked_ids


def test_an_alias_delivered_again_after_the_merge_changes_nothing():
    # Given anon-1 merged into ann already
    tombstone = Profile(customer_id="anon-1", merged_into="ann", version=4)
    # When it is linked again (ann's list of linked ids had forgotten it)
    linked = link(Profile(customer_id="ann", known=True, version=9), tombstone, {}, NOW, _alias())
    # Then nothing is written on its side and nothing is decided
    assert linked.other is None and linked.known.decisions == [] and linked.known.schedule == []


def test_an_id_merged_into_someone_else_is_not_merged_again():
    tombstone = Profile(customer_id="anon-1", merged_into="bob", version=4)
    linked = link(Profile(customer_id="ann", known=True, version=9), tombstone, {}, NOW, _alias())
    assert linked.other is None
    assert linked.known.decisions[0].reason_codes == ["merged_elsewhere"]


def test_an_anonymous_id_never_seen_gets_a_tombstone_and_no_decision():
    # Given a browser's anonymousId that has no profile yet (version 0)
    linked = link(
        Profile(customer_id="ann", known=True, version=2), Profile(customer_id="anon-9"), {}, NOW, _alias()
    )
    linked.record_merge(0, NOW, _alias())
    # Then its later anonymous events will find the tombstone, and no merge is reported
    assert linked.other is not None and linked.other.profile.merged_into == "ann"
    assert linked.known.decisions == [] and linked.other.decisions == []


def test_triggers_the_visitor_could_not_get_are_handed_back_as_the_known_customers_events():
    # Given a visitor whose cart reminder was refused for want of an address at 09:55
    trigger = AwaitingTrigger(
        event="Product Added",
        message_id="t1",
        at=NOW - timedelta(minutes=5),
        properties={"product_id": "pan"},
    )
    anonymous = Profile(customer_id="anon-1", awaiting_address=[trigger], version=2)
    # When it is merged into ann
    linked = link(Profile(customer_id="ann", known=True, version=1), anonymous, {}, NOW, _alias())
    # Then the trigger comes back as ann's event, at its own time, and the known profile keeps no copy
    (replay,) = linked.replays
    assert (replay.customer_id, replay.message_id, replay.occurred_at) == ("ann", "t1", trigger.at)
    assert linked.known.profile.awaiting_address == []


def test_combining_plans_writes_each_message_once():
    # Given a first plan creating a message, and a second moving it and closing another
    created = _message("ann", "m1")
    first = Plan(profile=Profile(customer_id="ann"), schedule=[created])
    later = NOW + timedelta(hours=3)
    second = Plan(
        profile=Profile(customer_id="ann", version=1),
        move=[Move("m1", later, 1, [])],
        close=[("m2", MessageStatus.CANCELLED, _decision())],
    )
    # When they are combined
    plan = combine(first, second)
    # Then the created message is created at its final time, and the other is closed
    assert [(m.message_id, m.send_at, m.generation) for m in plan.schedule] == [("m1", later, 1)]
    assert plan.move == [] and [c[0] for c in plan.close] == ["m2"]
    assert plan.profile is second.profile


def _decision() -> Decision:
    return Decision.made(
        Outcome.CANCELLED,
        [Reason.merged_duplicate("ann", "m1")],
        customer_id="ann",
        campaign_id="c",
        at=NOW,
        zone=None,
    )


def test_reports_count_a_cancelled_duplicate_and_nothing_for_a_merge():
    # Given the decisions a merge records
    merged = Decision.made(
        Outcome.MERGED,
        [
            Reason.merged(
                "anon-1", "ann", cart_lines=1, moved=0, cancelled=1, replayed=0, consent_changed=False
            )
        ],
        customer_id="ann",
        campaign_id=IDENTITY,
        at=NOW,
        zone=None,
    )
    refused = Decision.made(
        Outcome.NOT_MERGED,
        [Reason.both_known("kai")],
        customer_id="ann",
        campaign_id=IDENTITY,
        at=NOW,
        zone=None,
    )
    duplicate = Decision.made(
        Outcome.CANCELLED,
        [Reason.merged_duplicate("ann", "m1")],
        customer_id="anon-1",
        campaign_id="cart_abandonment",
        at=NOW,
        zone=None,
    )
    # Then the campaign counts one cancellation, and the merge itself adds to no campaign's counters
    assert ticks(merged) == [] and ticks(refused) == []
    assert [(t.campaign_id, t.name) for t in ticks(duplicate)] == [("cart_abandonment", "cancelled")]


def test_a_program_run_moves_unless_the_known_customer_is_in_that_program_already():
    # Given an anonymous visitor in two programs, and a customer in one of them
    def run(program: str, step: str) -> ProgramRun:
        return ProgramRun(
            program_id=program, version=1, run_id=f"r-{step}", step=step, entered_at=NOW, step_at=NOW
        )

    known = Profile(customer_id="ann", programs={"welcome": run("welcome", "known-step")})
    anonymous = Profile(
        customer_id="anon-1",
        programs={"welcome": run("welcome", "anon-step"), "browse": run("browse", "wait")},
    )
    # When they are merged
    programs = merge_profiles(known, anonymous, NOW).programs
    # Then the known customer's run continues, and the run it was not in moves with the visitor
    assert {pid: r.step for pid, r in programs.items()} == {"welcome": "known-step", "browse": "wait"}


def test_a_step_message_of_a_run_the_known_customer_replaced_is_cancelled():
    # Given an anonymous run's step message waiting, and a customer in the same program
    anonymous = Profile(customer_id="anon-1", email="guest@example.com", version=2)
    step = _message("anon-1", "m-step", campaign="welcome--v1--hello")
    _waiting(anonymous, step)
    run = ProgramRun(program_id="welcome", version=1, run_id="r", step="later", entered_at=NOW, step_at=NOW)
    known = Profile(customer_id="ann", known=True, programs={"welcome": run}, version=3)
    # When they are linked
    linked = link(known, anonymous, {"m-step": step}, NOW, _alias())
    # Then the step message does not move: it is cancelled as a duplicate
    assert linked.known.schedule == [] and linked.other is not None
    assert [d.reason_codes for _, _, d in linked.other.close] == [["merged_duplicate"]]


def test_no_trigger_is_planned_again_without_an_address_or_from_before_an_order():
    # Given a visitor's refused cart trigger at 09:55, merged into ann
    trigger = AwaitingTrigger(event="Product Added", message_id="t1", at=NOW - timedelta(minutes=5))
    anonymous = Profile(customer_id="anon-1", awaiting_address=[trigger], version=2)
    linked = link(Profile(customer_id="ann", known=True, version=1), anonymous, {}, NOW, _alias())
    # Then nothing is planned again while ann has no address, or once she ordered after the cart
    assert linked.replays_for(Profile(customer_id="ann")) == []
    ordered = Profile(customer_id="ann", email="ann@example.com", last_order_at=NOW)
    assert linked.replays_for(ordered) == []
    # And with an address and no later order, the trigger is planned again
    assert [
        r.message_id for r in linked.replays_for(Profile(customer_id="ann", email="ann@example.com"))
    ] == ["t1"]
