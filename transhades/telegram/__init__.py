"""Everything Telegram: the narrow gateway to the client library, a faithful fake of it, and the chat logic."""
