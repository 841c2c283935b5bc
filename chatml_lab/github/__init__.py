"""GitHub: a client over githubkit (token discovery, ETags, back-off) and the PR poller.

Only this package speaks to GitHub; the core gets plain records (:mod:`.types`) and never builds
a URL.
"""
