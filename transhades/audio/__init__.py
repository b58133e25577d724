"""Audio from any media file: probe it, prepare it for a provider in one ffmpeg pass (``prepare``: ``probe``,
``AudioPreparer``, ``ffmpeg_binary``), cut a long recording at pauses (``chunking``), and read a large file while it
is still downloading (``arrivals``: ``Arrivals``)."""
