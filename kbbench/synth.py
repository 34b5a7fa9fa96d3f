"""A deterministic synthetic knowledge base in kb's article format, for speed benchmarks.

Articles are recombined from domain phrases (products x symptoms x areas x systems), so
titles, aliases and steps vary enough that the keyword and vector indexes are not
degenerate, and their lengths match the bundled articles (3-4 KB, about 12 chunks each).
Every article passes `kb lint`: procedures have numbered `## Steps` with nested bullets and
the Exceptions / What you can offer / Escalation / Follow-up sections, `policies:` names
only policies, and `related:` only articles that exist. The same seed gives the same files.

The bundled sample articles can be copied in too, so labelled queries still have answers.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

BRANDS = (
    "Aurora", "Summit", "Kestrel", "Harbour", "Fennel", "Northway", "Cobalt", "Meadow", "Granite", "Willow",
    "Ember", "Drift", "Pioneer", "Cascade", "Juniper", "Lumen", "Orchard", "Quill", "Ridge", "Solace",
    "Tundra", "Vale", "Zephyr", "Alder", "Bramble", "Cedar", "Dune", "Heron", "Marram", "Saltmarsh",
)

# category -> (product nouns, symptoms a customer reports, specs a product page lists)
CATALOGUE: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "electricals": (
        ("robot vacuum", "air purifier", "smart speaker", "cordless drill", "bean-to-cup coffee machine",
         "stand mixer", "air fryer", "dehumidifier", "electric toothbrush", "noise-cancelling headphones",
         "soundbar", "mini projector", "e-reader", "baby monitor", "fitness watch", "kettle", "toaster"),
        ("won't turn on", "stopped charging", "shows an error code", "makes a grinding noise",
         "keeps dropping off the wifi", "leaks water onto the worktop", "gets very hot", "won't pair with the app",
         "switches itself off", "has a dead pixel line"),
        ("battery life of {n} hours", "{n}-year guarantee", "{n} W motor", "weighs {n} kg", "{n} power settings",
         "app control on iOS and Android", "USB-C charging in {n} hours", "{n} dB at full power"),
    ),
    "furniture": (
        ("corner sofa", "oak dining table", "king-size bed frame", "memory foam mattress", "sliding wardrobe",
         "bookcase", "office chair", "garden bench", "recliner armchair", "bunk bed", "chest of drawers",
         "TV unit", "bar stool", "sofa bed"),
        ("arrived with a deep scratch", "is missing a fixing pack", "has a wobbly leg", "came in the wrong colour",
         "won't fit through the front door", "fabric is already pilling", "has a cracked slat",
         "smells strongly of chemicals", "drawer runners have jammed", "recliner mechanism sticks"),
        ("{n} cm wide", "seats {n}", "solid oak frame", "{n}-year frame guarantee", "removable washable covers",
         "two-person delivery to room of choice", "assembly in about {n} minutes", "supports up to {n} kg"),
    ),
    "clothing": (
        ("down jacket", "waterproof shell jacket", "walking boots", "fleece", "running shoes", "merino jumper",
         "rain poncho", "hiking trousers", "school shoes", "thermal base layer", "ski gloves", "wellies"),
        ("zip has broken", "seam has split", "is the wrong size", "colour ran in the wash", "lets water in",
         "sole is coming away", "has a hole after one wear", "arrived with the security tag still on",
         "stitching is unravelling", "shrank after washing"),
        ("sizes {n} to {m}", "{n} g fill weight", "waterproof to {n} mm", "machine washable at {n} degrees",
         "recycled fabric", "{n}-year guarantee on seams and zips", "wide fit available"),
    ),
    "outdoor": (
        ("2-person tent", "family tent", "sleeping bag", "camping stove", "inflatable kayak", "trekking poles",
         "cool box", "child bike seat", "roof box", "paddleboard", "hammock", "head torch", "city e-bike"),
        ("pole snapped on the first trip", "has a tear in the flysheet", "battery won't hold a charge",
         "valve leaks air", "brakes squeal", "buckle cracked", "zip keeps splitting", "gas regulator hisses",
         "display shows E30", "lost its waterproofing"),
        ("packs down to {n} cm", "sleeps {n}", "{n} Wh battery", "comfort rating {n} degrees", "weighs {n} kg",
         "hydrostatic head {n} mm", "range of {n} km", "{n}-year guarantee"),
    ),
    "home": (
        ("duvet", "blackout curtains", "wool rug", "cookware set", "knife block", "towel bale", "table lamp",
         "rainfall shower head", "mirror", "dinner set", "bed linen set", "storage baskets"),
        ("arrived chipped", "shrank in the wash", "handle came loose", "is a different shade to the photo",
         "bulb flickers", "non-stick coating is peeling", "rug edges are curling", "glass cracked in the box",
         "pieces are missing from the set", "hooks bent on hanging"),
        ("{n} thread count", "dishwasher safe", "tog rating {n}", "{n} pieces", "{n} x {m} cm",
         "oven safe to {n} degrees", "hypoallergenic filling"),
    ),
    "garden": (
        ("cordless lawnmower", "pressure washer", "hedge trimmer", "gas barbecue", "fire pit", "greenhouse",
         "cantilever parasol", "hot tub", "garden shed", "rattan dining set", "water butt", "robotic mower"),
        ("won't start", "pump has failed", "cover ripped in the wind", "rusted within a month", "cable is frayed",
         "blade is blunt out of the box", "panels arrived smashed", "heater trips the fuse",
         "boundary wire keeps breaking", "frame is bent"),
        ("cutting width {n} cm", "{n} bar pressure", "{n} V battery", "seats {n}", "{n} litres",
         "frost-proof to minus {n} degrees", "{n}-year guarantee"),
    ),
}

AREAS: dict[str, dict[str, tuple[str, ...]]] = {
    "returns": {
        "titles": ("Return a {product} bought {channel}", "Refund a {product} that {symptom}",
                   "Exchange a {product} for a different {variant}", "Collect a {product} from home for return",
                   "Return one item from a {product} bundle", "Handle a late return of a {product}"),
        "team": ("Returns team",),
        "tags": ("returns", "refunds", "exchange", "collection", "condition"),
    },
    "delivery": {
        "titles": ("Rearrange a missed {product} delivery", "Chase a delayed {product} delivery",
                   "Deliver a {product} to {place}", "Report a {product} damaged in transit",
                   "Change the delivery slot for a {product}", "Find a {product} marked delivered but not received"),
        "team": ("Delivery team", "Logistics desk"),
        "tags": ("delivery", "carrier", "tracking", "two-person", "slots"),
    },
    "orders": {
        "titles": ("Cancel a {product} order after dispatch", "Add a {product} to an existing order",
                   "Fix a {product} order placed twice", "Split a {product} order across two addresses",
                   "Amend the {variant} on a {product} order", "Chase a {product} pre-order"),
        "team": ("Orders team",),
        "tags": ("orders", "cancellation", "amendments", "pre-orders", "duplicates"),
    },
    "payments": {
        "titles": ("Refund a {product} paid by {payment}", "Resolve a {payment} charge for a {product}",
                   "Set up {payment} for a {product}", "Reverse a double charge for a {product}",
                   "Apply a price drop to a {product} paid by {payment}"),
        "team": ("Payments team",),
        "tags": ("payments", "refunds", "cards", "finance", "charges"),
    },
    "warranty": {
        "titles": ("Claim a repair for a {product} that {symptom}", "Book an engineer visit for a {product}",
                   "Replace a {product} under guarantee", "Check a {product} fault before a warranty claim",
                   "Arrange a loan {product} during a repair"),
        "team": ("Aftercare team",),
        "tags": ("warranty", "repairs", "faults", "guarantee", "engineer"),
    },
    "installation": {
        "titles": ("Book installation for a {product}", "Reschedule a {product} installation",
                   "Handle a failed {product} installation", "Remove an old {product} at delivery",
                   "Quote fitting for a {product}"),
        "team": ("Installations team",),
        "tags": ("installation", "fitting", "appointments", "removal", "engineers"),
    },
    "service": {
        "titles": ("Handle a complaint about a {product} that {symptom}", "Offer goodwill for a {product} delay",
                   "Respond to a review about a {product}", "Support a vulnerable customer with a {product} order"),
        "team": ("Customer relations",),
        "tags": ("complaints", "goodwill", "service recovery", "vulnerability", "reviews"),
    },
    "stores": {
        "titles": ("Reserve a {product} in store", "Transfer a {product} between stores",
                   "Click and collect a {product}", "Return a {product} bought online to a store",
                   "Price check a {product} against the website"),
        "team": ("Stores support",),
        "tags": ("stores", "click and collect", "reservations", "transfers", "in store"),
    },
    "loyalty": {
        "titles": ("Add missing points for a {product} purchase", "Apply a member discount to a {product}",
                   "Redeem points against a {product}", "Restore member pricing on a {product} order"),
        "team": ("Loyalty team",),
        "tags": ("loyalty", "points", "membership", "rewards", "discounts"),
    },
    "recycling": {
        "titles": ("Collect an old {product} for recycling", "Take back packaging from a {product} delivery",
                   "Book a trade-in for an old {product}", "Dispose of a {product} battery safely"),
        "team": ("Sustainability desk",),
        "tags": ("recycling", "take-back", "trade-in", "WEEE", "packaging"),
    },
    "business": {
        "titles": ("Quote trade pricing for bulk {product} orders", "Invoice a trade account for a {product}",
                   "Extend credit terms for a {product} order", "Deliver {product} orders to a site"),
        "team": ("Trade desk",),
        "tags": ("trade", "business", "invoices", "bulk orders", "credit"),
    },
    "account": {
        "titles": ("Update the {detail} on an account with a {product} order", "Unlock an account after {lock}",
                   "Merge two accounts that both hold {product} orders", "Remove a saved card after a {product} order"),
        "team": ("Accounts team", "Privacy team"),
        "tags": ("account", "login", "security", "personal data", "profile"),
    },
}

POLICY_TOPICS = (
    "returns", "refunds", "exchanges", "delivery charges", "large-item delivery", "damaged-in-transit",
    "warranty", "repairs", "price promise", "goodwill", "cancellation", "installation", "recycling",
    "trade pricing", "loyalty points", "pre-order", "collection", "faulty goods", "gift receipts",
    "finance", "click and collect", "data retention", "member pricing", "bundle pricing", "late returns",
)
REGIONS = ("UK mainland", "Highlands and islands", "Northern Ireland", "Channel Islands", "stores",
           "online orders", "members", "trade customers")

CHANNELS = ("online", "in store", "by phone", "through the app", "with a gift card", "on Pay Monthly")
VARIANTS = ("size", "colour", "model", "finish", "fabric", "length")
PLACES = ("a flat above the ground floor", "a workplace", "a neighbour", "a parcel locker", "a rural address",
          "a holiday let", "a student hall", "an address on an island")
PAYMENTS = ("credit card", "debit card", "PayPal", "gift card", "Pay Monthly", "Apple Pay", "store credit",
            "a split payment")
DETAILS = ("email address", "phone number", "billing address", "marketing preferences", "name", "delivery notes")
LOCKS = ("too many password attempts", "a suspicious login", "a changed phone number", "a fraud check")

SYSTEMS = ("Order Hub", "Returns portal", "Payments console", "Carrier portal", "Customer profile", "Stock checker",
           "Engineer booking tool", "Loyalty console", "Case manager", "Trade portal")
CARRIERS = ("Parcelwise", "Swiftline", "the two-person crew", "Northern Freight", "CityCourier")
DAYS = (2, 3, 5, 7, 10, 14, 28, 30, 60, 90)
AMOUNTS = ("£20", "£35", "£50", "£75", "£100", "£150", "£250", "£500")
MEMBERS = ("Larkspur Plus", "trade", "Care+", "staff discount")
OPTIONS = ("Exchange", "Refund", "Collection", "Repair", "Replacement", "Part refund", "Redelivery", "Goodwill")

INTROS = (
    "Use this when {who} contacts us because their {product} {symptom} and wants it sorted on this call.",
    "Use this for {product} orders placed {channel} where the customer {wants}.",
    "This covers {product} cases where the customer {wants}; most are resolved without a transfer.",
    "Follow this when a customer says their {product} {symptom}. It takes about {n} minutes.",
)
WHO = ("a customer", "a member", "a trade customer", "a gift recipient", "a customer who bought in store")
WANTS = ("wants a refund", "would rather have a replacement", "needs it before a set date", "wants to cancel",
         "wants a different {variant}", "is asking what we can offer", "has already contacted us twice")

STEPS = (
    "Confirm the order number, the {product} and {ask}.",
    "Check in {system} that the order is within {days} days of delivery.",
    "Ask for photos of {evidence} and attach them to the case in {system}.",
    "Look up the order in {system} and note the dispatch date, the carrier and the payment method.",
    "Check stock of the replacement {product} under \"Availability\" in {system}.",
    "Explain {explain} before you book anything, so the customer knows what happens next.",
    "Create the {option} in {system}: choose \"{option}\", select the item and the reason \"{symptom_short}\".",
    "Book a collection with {carrier} for a date that suits the customer, within {days} working days.",
    "Tell the customer the {outcome} within {days} working days, and that we will email them at each stage.",
    "Log the reference and what you agreed as a case note in {system}.",
    "Check whether the customer is a {member} member on the Customer profile; members get {perk}.",
    "Send the {document} from {system} and confirm the customer has received it.",
    "Run the troubleshooting checks for the {product}: {check}.",
    "Agree the next contact date with the customer and set a reminder in {system}.",
)
ASKS = ("the date it arrived", "what exactly is wrong", "the size they have and the size they need",
        "how they paid", "whether the packaging was damaged", "the delivery postcode")
EVIDENCE = ("the fault", "the damage and the box", "the label and serial number", "the missing parts list",
            "the receipt or bank statement", "the error shown on the display")
EXPLAINS = ("how the refund is paid back to the original payment method", "how long a repair usually takes",
            "that collections need someone at home", "what counts as normal wear",
            "the difference between a repair and a replacement", "that a part refund keeps the item with the customer")
OUTCOMES = ("refund will be issued", "replacement will be dispatched", "engineer will call to confirm a slot",
            "points will be added", "collection will be confirmed by text", "invoice will be reissued")
PERKS = ("free next-day dispatch", "an extra 30 days to return", "priority engineer slots", "double points",
         "free collection")
DOCUMENTS = ("returns label", "repair booking confirmation", "refund confirmation email", "VAT invoice",
             "collection QR code", "warranty certificate")
CHECKS = ("switch it off at the wall for a minute and restart it", "check the fuse and the cable",
          "update the app and re-pair it", "clean the filter and the contacts", "reseat the battery until it clicks",
          "check the model number against the order")

BULLETS = (
    "If they bought {channel}, look the sale up in {system} by the last four digits of the card and the date.",
    "If the {product} is over {amount}, ask a team leader before you go on.",
    "If the item is marked \"final sale\", go to Exceptions.",
    "In stock online: carry on to the next step.",
    "Out of stock everywhere: offer a back-in-stock alert or a full refund.",
    "If the customer is a {member} member, {perk} applies.",
    "If {carrier} has no slot within {days} days, offer a store return instead.",
    "If the photos show misuse, explain that the guarantee does not cover it and go to What you can offer.",
    "For a {product} delivered by the two-person crew, collection needs a 4-hour slot.",
    "If this is the second time, skip to Escalation.",
)
EXCEPTIONS = (
    "A team leader may approve {option_lower} for orders under {amount}, once per customer in 12 months.",
    "A team leader may approve a {option_lower} up to {days} days outside the usual window.",
    "\"Final sale\" items can only be returned if faulty; refer anything else to the {team}.",
    "Where the customer is vulnerable, any agent may waive the {days}-day limit and note why.",
    "Orders over {amount} need the {team} to approve a refund before the item is back.",
    "Trade orders follow the trade terms; pass them to the Trade desk.",
)
OFFERS = (
    "Reserve a replacement in a nearby store for same-day collection.",
    "A back-in-stock alert if the {variant} they want is out of stock.",
    "A goodwill gesture of up to {amount} under the goodwill policy.",
    "A free collection from home instead of a drop-off.",
    "A loan {product} while theirs is being repaired, where stock allows.",
    "Double loyalty points on their next order.",
    "A part refund of up to {amount} if they would rather keep the {product}.",
)
FOLLOW_UPS = (
    "Check the return is scanned within {days} working days of booking.",
    "Confirm the replacement has been dispatched and send the tracking link.",
    "Check the refund has been issued and tell the customer when it will show.",
    "Call the customer after the engineer visit to check the {product} works.",
    "Close the case once the customer confirms it is resolved.",
    "If there is no update from {carrier} in {days} days, open a trace.",
)
ALIASES = (
    "my {product} {symptom}", "{product} {symptom}", "{brand} {noun} not working", "can I return my {noun}",
    "{noun} arrived broken", "where is my {noun}", "want my money back for the {noun}", "swap my {noun}",
    "{noun} still not delivered", "get my {noun} fixed", "{noun} paid twice", "cancel the {noun}",
    "{noun} missing parts", "{noun} wrong {variant}",
)


@dataclass(frozen=True)
class Product:
    brand: str
    noun: str
    category: str

    @property
    def name(self) -> str:
        return f"{self.brand} {self.noun}"


def _spec_label(template: str) -> str:
    """A product fact's label: the first plain word of its template ("{n} W motor" -> "W")."""
    words = [word for word in template.split() if "{" not in word and len(word) > 2]
    return words[0].capitalize() if words else "Spec"


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")


def _yaml_str(value: str) -> str:
    """A YAML scalar for `value`: plain when that is safe, else a JSON (double-quoted) string."""
    if re.search(r": |\s#|^[\s\-?:,\[\]{}#&*!|>'\"%@`]|\s$", value) or value.lower() in ("yes", "no", "true", "false", "null"):
        return json.dumps(value, ensure_ascii=False)
    return value


class _Writer:
    """Fills phrase templates from one seeded random generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, options):
        return self.rng.choice(options)

    def fill(self, template: str, product: Product, **extra: str) -> str:
        _nouns, symptoms, _specs = CATALOGUE[product.category]
        values = {
            "product": product.name, "brand": product.brand, "noun": product.noun,
            "symptom": self.pick(symptoms), "channel": self.pick(CHANNELS), "variant": self.pick(VARIANTS),
            "place": self.pick(PLACES), "payment": self.pick(PAYMENTS), "detail": self.pick(DETAILS),
            "lock": self.pick(LOCKS), "system": self.pick(SYSTEMS), "carrier": self.pick(CARRIERS),
            "days": str(self.pick(DAYS)), "amount": self.pick(AMOUNTS), "member": self.pick(MEMBERS),
            "perk": self.pick(PERKS), "option": self.pick(OPTIONS), "ask": self.pick(ASKS),
            "evidence": self.pick(EVIDENCE), "explain": self.pick(EXPLAINS), "outcome": self.pick(OUTCOMES),
            "document": self.pick(DOCUMENTS), "check": self.pick(CHECKS), "who": self.pick(WHO),
            "n": str(self.rng.randint(2, 90)), "m": str(self.rng.randint(91, 240)),
        }
        values["wants"] = self.pick(WANTS).format(variant=values["variant"])
        values["option_lower"] = values["option"].lower()
        values["symptom_short"] = values["symptom"].split(" ")[0].capitalize() + " " + " ".join(values["symptom"].split(" ")[1:3])
        values.update(extra)
        return template.format(**values)

    def sample(self, pool, k: int) -> list:
        return self.rng.sample(list(pool), min(k, len(pool)))


def _front_matter(fields: Mapping[str, object]) -> str:
    lines = ["---"]
    for key, value in fields.items():
        if isinstance(value, list):
            if key == "aliases":
                lines.append("aliases:")
                lines.extend(f"  - {_yaml_str(v)}" for v in value)
            else:
                lines.append(f"{key}: [{', '.join(value)}]")
        else:
            lines.append(f"{key}: {_yaml_str(str(value))}")
    lines.append("---")
    return "\n".join(lines)


def _products(w: _Writer) -> list[Product]:
    products = [Product(b, noun, cat) for cat, (nouns, _s, _p) in CATALOGUE.items() for noun in nouns for b in BRANDS]
    w.rng.shuffle(products)
    return products


def _dates(w: _Writer) -> dict[str, str]:
    month, day = w.rng.randint(1, 12), w.rng.randint(1, 28)
    return {"updated": f"2026-{month:02d}-{day:02d}", "review_by": f"2030-{month:02d}-{day:02d}"}


def procedure(w: _Writer, area: str, product: Product, policies: list[str], related: list[str]) -> tuple[str, str]:
    """Title and Markdown source of one procedure."""
    spec = AREAS[area]
    title = w.fill(w.pick(spec["titles"]), product)
    title = title[0].upper() + title[1:]
    team = w.pick(spec["team"])
    aliases = list(dict.fromkeys(w.fill(a, product) for a in w.sample(ALIASES, w.rng.randint(4, 6))))
    fields = {
        "title": title,
        "type": "procedure",
        "summary": w.fill(w.pick(INTROS), product).replace("Use this when", "What to do when").replace("Use this for", "How to handle"),
        "owner": team,
        "tags": [area, product.category, *w.sample(spec["tags"], 2), slugify(product.noun)],
        "audience": w.pick(("internal", "internal", "public")),
        "policies": policies,
        "related": related,
        **_dates(w),
        "aliases": aliases,
    }
    steps = []
    # Steps keep the pool's order (confirm, check, act, tell, log) so a procedure reads in sequence.
    for n, template in enumerate(sorted(w.sample(STEPS, w.rng.randint(6, 9)), key=STEPS.index), start=1):
        steps.append(f"{n}. {w.fill(template, product)}")
        if w.rng.random() < 0.45:
            steps.extend(f"    - {w.fill(b, product)}" for b in w.sample(BULLETS, w.rng.randint(1, 3)))
    body = [
        w.fill(w.pick(INTROS), product) + " " + w.fill(w.pick(INTROS), product),
        "## Steps\n" + "\n".join(steps),
        "## Exceptions\n" + "\n".join(f"- {w.fill(e, product, team=team)}" for e in w.sample(EXCEPTIONS, w.rng.randint(2, 3))),
        "## What you can offer\n" + "\n".join(f"- {w.fill(o, product)}" for o in w.sample(OFFERS, w.rng.randint(2, 4))),
        "## Escalation\n" + w.fill(
            "Pass to the {team} queue if {system} won't let you create the {option_lower}, or the customer has "
            "contacted us more than twice about this {noun}. Warm transfer briefing: \"[Name], order [number], {noun} "
            "that {symptom}. We have checked [what], offered [what]. The problem is [what].\"",
            product, team=team,
        ),
        "## Follow-up\n" + "\n".join(f"- {w.fill(f, product)}" for f in w.sample(FOLLOW_UPS, w.rng.randint(3, 4))),
    ]
    return title, _front_matter(fields) + "\n\n" + "\n\n".join(body) + "\n"


def policy(w: _Writer, topic: str, scope: str, products: list[Product], related: list[str]) -> tuple[str, str]:
    """Title and Markdown source of one policy."""
    title = f"{topic.capitalize()} policy for {scope}"
    p = products[0]
    team = w.pick(AREAS[w.pick(tuple(AREAS))]["team"])
    rule_templates = w.sample((
        "Items must be unused, with tags attached, unless the {noun} is faulty.",
        "We refund to the original payment method within {days} working days of receiving the item.",
        "Large items like a {noun} are collected by {carrier}; a collection slot is 4 hours.",
        "Orders over {amount} are checked by the {team} before a refund is issued.",
        "Members of {member} get {perk}.",
        "Delivery charges are refunded when the whole order comes back within {days} days.",
        "A repair is offered first for faults after {days} days; a replacement if the repair fails.",
        "Prices are matched against the same {noun} from a named UK retailer, in stock, on the day.",
    ), w.rng.randint(4, 6))
    rules = [
        f"- **{topic.capitalize()}** for {scope} applies to orders placed {w.pick(CHANNELS)} within {w.pick(DAYS)} days.",
        *(f"- {w.fill(t, w.pick(products), team=team)}" for t in rule_templates),
    ]
    body = [
        (f"This policy sets out how {topic} works for {scope}. It applies to products such as the "
         f"{products[0].name} and the {products[-1].name}, and is owned by the {team}."),
        "## The rules\n\n" + "\n".join(rules),
        "## How long it takes\n\n" + "\n".join(
            f"- **{pay.capitalize()}:** {w.pick(DAYS)} working days." for pay in w.sample(PAYMENTS, 4)
        ),
        "## Exceptions\n\n" + "\n".join(f"- {w.fill(e, p, team=team)}" for e in w.sample(EXCEPTIONS, 3)),
        "## What you can offer\n\n" + "\n".join(f"- {w.fill(o, p)}" for o in w.sample(OFFERS, 3)),
        "## How to apply it\n\n" + "\n".join(
            f"- {w.fill(t, w.pick(products), team=team)}" for t in sorted(w.sample(STEPS, 4), key=STEPS.index)
        ),
    ]
    fields = {
        "title": title,
        "type": "policy",
        "summary": f"How {topic} works for {scope}: time limits, conditions, exceptions and what agents may offer.",
        "owner": team,
        "tags": [slugify(topic), slugify(scope), "policy"],
        "audience": w.pick(("public", "internal")),
        "related": related,
        **_dates(w),
        "aliases": [f"{topic} rules for {scope}", f"what is the {topic} policy", f"{topic} {w.pick(('limit', 'time', 'rules', 'terms'))}"],
    }
    return title, _front_matter(fields) + "\n\n" + "\n\n".join(body) + "\n"


def product_page(w: _Writer, product: Product, related: list[str]) -> tuple[str, str]:
    """Title and Markdown source of one product page."""
    _nouns, symptoms, specs = CATALOGUE[product.category]
    facts = [f"- **{_spec_label(s)}:** {w.fill(s, product)}" for s in w.sample(specs, w.rng.randint(4, 6))]
    questions = [
        f"**Can I return it?** Yes, within {w.pick(DAYS)} days if unused; we collect large items free.",
        f"**What if the {product.noun} {w.pick(symptoms)}?** {w.fill(w.pick(CHECKS), product).capitalize()}; if that doesn't help, see the warranty claim procedure.",
        f"**Can I pay monthly?** On orders over {w.pick(AMOUNTS)}, with Pay Monthly over 12, 24 or 36 months, subject to status.",
        f"**Does it come assembled?** {w.pick(('Yes, ready to use.', 'No; assembly takes about an hour with two people.', 'Our installers can fit it for a fee.'))}",
        f"**Is there a {w.pick(('spare part', 'cover', 'charger', 'refill', 'extended guarantee'))}?** Yes, from {w.pick(AMOUNTS)}, in store or online.",
    ]
    body = [
        (f"The {product.name} is one of our own-brand {product.category} lines, sold online and in "
         f"{w.rng.randint(5, 40)} stores. {w.fill(w.pick(INTROS), product)}"),
        "## Key facts\n\n" + "\n".join(facts),
        "## Delivery and assembly\n\n" + w.fill(
            "Delivered by {carrier} within {days} working days, or free click and collect from a store. Larger items "
            "come with the two-person crew, who unpack it in the room of choice and take the packaging away. "
            "Members of {member} get {perk}.", product,
        ),
        "## Care and use\n\n" + "\n".join(f"- {w.fill(c, product).capitalize()}." for c in w.sample(CHECKS, 3)),
        "## Guarantee\n\n" + w.fill(
            "The {product} has a guarantee against manufacturing faults; wear and tear, misuse and accidental damage "
            "are not covered unless the customer bought Care+. Faults in the first {days} days get a replacement; "
            "after that we repair first. See the warranty policy for the exceptions.", product,
        ),
        "## Common questions\n\n" + "\n\n".join(questions),
    ]
    fields = {
        "title": product.name,
        "type": "product",
        "summary": f"The {product.name}: key facts, care, common faults and what the guarantee covers.",
        "owner": "Aftercare team",
        "tags": [product.category, slugify(product.noun), "product"],
        "audience": "public",
        "related": related,
        **_dates(w),
        "aliases": [product.noun, f"{product.brand.lower()} {product.noun.split(' ')[-1]}", f"{product.noun} {w.pick(symptoms)}"],
    }
    return product.name, _front_matter(fields) + "\n\n" + "\n\n".join(body) + "\n"


def generate_corpus(
    target: Path,
    n_articles: int = 5000,
    *,
    seed: int = 1,
    sample_articles: Path | None = None,
) -> int:
    """Write `n_articles` articles under `target` (emptied first); returns how many were written.

    With `sample_articles`, those real articles are copied in and count towards the total,
    so labelled queries about them still have answers among the synthetic distractors.
    """
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written = 0
    if sample_articles is not None:
        for path in sorted(Path(sample_articles).rglob("*.md")):
            dest = target / path.relative_to(sample_articles)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            written += 1
    remaining = max(0, n_articles - written)
    w = _Writer(seed)
    products = _products(w)
    n_policies = remaining // 5
    n_products = min(remaining // 5, len(products))
    n_procedures = remaining - n_policies - n_products

    # Ids are planned first so that `policies:` and `related:` only ever name articles that exist.
    policy_ids: list[str] = []
    pairs = [(t, s) for t in POLICY_TOPICS for s in REGIONS]
    w.rng.shuffle(pairs)
    planned: list[tuple[str, str, Any]] = []  # what: (topic, scope), a Product, or (area, Product)
    for i in range(n_policies):
        topic, scope = pairs[i % len(pairs)]
        scope_label = scope if i < len(pairs) else f"{scope} (edition {i // len(pairs) + 1})"
        article_id = f"policies/{slugify(topic + ' ' + scope)}-{i:04d}"
        policy_ids.append(article_id)
        planned.append(("policy", article_id, (topic, scope_label)))
    for i in range(n_products):
        product = products[i]
        planned.append(("product", f"products/{slugify(product.name)}-{i:04d}", product))
    areas = tuple(AREAS)
    for i in range(n_procedures):
        area = areas[i % len(areas)]
        product = products[(i * 7919) % len(products)]
        planned.append(("procedure", f"{area}/{slugify(product.noun)}-{i:05d}", (area, product)))
    all_ids = [article_id for _kind, article_id, _ in planned]

    for kind, article_id, what in planned:
        related = w.sample(all_ids, 3)
        related = [r for r in related if r != article_id][:3]
        if kind == "policy":
            topic, scope = what
            _title, text = policy(w, topic, scope, w.sample(products, 3), related)
        elif kind == "product":
            _title, text = product_page(w, what, related)
        else:
            area, product = what
            named = w.sample(policy_ids, w.rng.randint(1, 2)) if policy_ids else []
            _title, text = procedure(w, area, product, named, related)
        path = target / f"{article_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written += 1
    return written
