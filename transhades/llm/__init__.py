"""A chat model for /translate and /summary (``client``: an OpenAI-compatible chat-completions client)."""
