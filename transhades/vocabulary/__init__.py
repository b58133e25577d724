"""Vocabulary: the names and terms a chat uses (people, places, ministries, products), passed to every provider in
its own way so that they are spelled right, and never written into a transcript when they are not said.

``terms.py`` reads and checks what users and the config give; ``book.py`` keeps each chat's list beside its
settings (erased by /forget); the bot's ``/vocab`` command is ``transhades.telegram.vocab``."""
