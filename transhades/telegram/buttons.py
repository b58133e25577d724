"""Every inline button's callback data, one codec per kind: its prefix, its fields, packing and unpacking, and
Telegram's limit of 64 bytes checked when a button is made (not when a user presses a button that was cut).

The wire format is ``prefix:field:field``; the last field takes the rest, so a value with a colon survives. It
never changes for a kind already sent: buttons under old messages in users' chats must keep working.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 64  # Telegram's limit on callback data


class UnknownButton(ValueError):
    """Callback data no kind reads (a button of a newer or older version, or forged)."""


@dataclass(frozen=True)
class ButtonKind:
    prefix: str
    fields: tuple[str, ...]
    label_key: str | None = None  # the text key of its label, when the label is not the value itself

    @property
    def text_key(self) -> str:
        """The text key of its label, for the kinds labelled with a fixed text."""
        if self.label_key is None:
            raise TypeError(f"{self.prefix} buttons are labelled with their value, not with a text")
        return self.label_key

    def pack(self, *values: object) -> str:
        if len(values) != len(self.fields):
            raise TypeError(f"{self.prefix} buttons carry {', '.join(self.fields)}; got {len(values)} value(s)")
        data = ":".join((self.prefix, *(str(v) for v in values)))
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"{self.prefix} button data is {len(data.encode())} bytes; Telegram allows {MAX_BYTES}")
        return data

    def button(self, label: str, *values: object) -> tuple[str, str]:
        """(label, callback data), as the gateway's keyboards take them."""
        return label, self.pack(*values)

    def unpack(self, rest: str) -> tuple[str, ...]:
        """The fields after the prefix; missing ones are empty (an older button carried fewer)."""
        parts = rest.split(":", len(self.fields) - 1) if self.fields else []
        return tuple(parts) + ("",) * (len(self.fields) - len(parts))


TRANSLATE = ButtonKind("tr", ("job",), "button_translate")
TRANSLATE_TO = ButtonKind("tl", ("language", "job"))
SUMMARY = ButtonKind("sum", ("job",), "button_summary")
SRT = ButtonKind("srt", ("job",), "button_srt")
AGAIN = ButtonKind("hist", ("job",))
FORGET = ButtonKind("forget", ("answer", "asker"))
PROVIDER = ButtonKind("prov", ("provider",))
DEEPGRAM_MODEL = ButtonKind("dgm", ("model",))
LANGUAGE = ButtonKind("lang", ("language",))
FORMAT = ButtonKind("fmt", ("format",))

KINDS = {kind.prefix: kind for kind in (TRANSLATE, TRANSLATE_TO, SUMMARY, SRT, AGAIN, FORGET, PROVIDER,
                                        DEEPGRAM_MODEL, LANGUAGE, FORMAT)}


def parse(data: str | bytes | None) -> tuple[ButtonKind, tuple[str, ...]]:
    """The kind and fields of a press; :class:`UnknownButton` when no kind reads it."""
    text = data.decode(errors="replace") if isinstance(data, bytes) else (data or "")
    prefix, _, rest = text.partition(":")
    kind = KINDS.get(prefix)
    if kind is None:
        raise UnknownButton(f"no button kind {prefix!r}")
    return kind, kind.unpack(rest)
