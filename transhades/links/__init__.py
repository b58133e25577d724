"""Links instead of uploads: a recording's URL is fetched safely (``fetch``: schemes, redirects, size, private
addresses) and then goes through the same job as a file."""
