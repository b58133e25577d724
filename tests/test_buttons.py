"""Buttons as types: each kind packs and unpacks its own fields, refuses data over Telegram's 64 bytes when the
button is made, and reads the buttons already under users' messages (the wire format of each kind is fixed)."""

from __future__ import annotations

import pytest

from transhades.telegram.buttons import FORGET, KINDS, TRANSLATE, TRANSLATE_TO, UnknownButton, parse


def test_every_kind_round_trips_its_fields_and_prefixes_are_distinct():
    assert len(KINDS) == len({k.prefix for k in KINDS.values()}) >= 10
    for kind in KINDS.values():
        values = tuple(f"{field}-1" for field in kind.fields)
        assert parse(kind.pack(*values)) == (kind, values)


def test_the_wire_format_of_buttons_already_sent_is_read_unchanged():
    assert parse("tr:tg-501-1003-1003") == (TRANSLATE, ("tg-501-1003-1003",))
    assert parse(b"tl:id:tg-1-2-3") == (TRANSLATE_TO, ("id", "tg-1-2-3"))
    assert parse("forget:yes:42") == (FORGET, ("yes", "42"))
    assert parse("forget:yes") == (FORGET, ("yes", "")), "an older /forget button carried no asker"


def test_data_over_64_bytes_is_refused_when_the_button_is_made_and_unknown_data_is_one_error():
    with pytest.raises(ValueError, match="64"):
        TRANSLATE.pack("j" * 70)
    with pytest.raises(TypeError):
        TRANSLATE_TO.pack("id")
    with pytest.raises(UnknownButton):
        parse("nope:1")
    with pytest.raises(UnknownButton):
        parse(None)
