"""The one contract between a supervised actor and the plain object that outlives its crashes."""

from __future__ import annotations

from typing import Any


class Keeper:
    """What outlives an actor (the dispatcher's JobFlow, the bot's FrontDesk, the front's Relay). While the actor
    handles a message of one of its ``kept_types``, the message is ``in_hand`` here; if the actor dies on it, its
    next incarnation finds it here and handles it again, so a crash loses no message (see actors/base.py)."""

    in_hand: Any = None
