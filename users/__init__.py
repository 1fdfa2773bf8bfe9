"""quantload user classes and the API client.

``users/api.py`` is the one place that knows the target's paths and payloads.

Import the classes from their modules; this package itself imports nothing, so
importing it never pulls in Locust (which monkey-patches on import), and the
options can take the users' defaults from here.
"""

DEFAULT_SEED = 0
"""Seed of the users' random choices when ``--seed`` is not given, so runs repeat."""
