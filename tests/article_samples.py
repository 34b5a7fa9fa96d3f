"""Small valid articles for lint and parser tests, and a helper to write them into a tree.

Line numbers in PROCEDURE matter: tests point findings at them.
"""

from __future__ import annotations

from pathlib import Path

PROCEDURE = """\
---
title: Start a return
type: procedure
summary: Set up a return for an unwanted item and send the customer a label.
owner: Returns team
tags: [returns, label]
audience: public
policies: [returns/returns-policy]
related: [products/gift-cards]
updated: 2026-01-15
review_by: 2027-01-31
aliases:
  - send something back
---
Use this when the item is not faulty.

## Steps
1. Find the order in Order Hub.
    - No receipt: use the receipt-less process.
2. Check the return window.
3. Create the return and send the label.

## Exceptions
- A team leader may approve up to 14 days late.
"""

POLICY = """\
---
title: Returns policy
type: policy
summary: Customers can return most items within 30 days.
owner: Returns team
---
## The rules
- 30 days from delivery.
"""

PRODUCT = """\
---
title: Larkspur gift cards
type: product
summary: Gift cards from 5 to 500 pounds, valid for 24 months.
owner: Payments team
---
## Key facts
- Valid for 24 months.
"""

PROCEDURE_PATH = "articles/returns/start-a-return.md"


def write(root: Path, id_: str, text: str) -> Path:
    path = root / f"{id_}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_tree(root: Path) -> Path:
    """A valid tree: a policy, a product and a procedure bound by the policy and related to the product."""
    write(root, "returns/returns-policy", POLICY)
    write(root, "products/gift-cards", PRODUCT)
    write(root, "returns/start-a-return", PROCEDURE)
    return root
