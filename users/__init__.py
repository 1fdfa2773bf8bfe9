"""quantload user classes and the API client.

``users/api.py`` is the one place that knows the target's paths and payloads.

Import the classes from their modules; this package itself imports nothing, so
importing it never pulls in Locust (which monkey-patches on import).
``users/settings.py`` is how every room reads the run's options, typed.
"""
