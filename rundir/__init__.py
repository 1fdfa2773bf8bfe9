"""The run directory, the suite's central contract (DESIGN.md, "The run directory").

``layout`` (file names, defaults, run ids, pseudo-request types), ``records``
(what a row and ``summary.json`` hold), ``redact`` (never a secret in
``meta.json``), ``files`` (whole lines appended, whole files replaced),
``writer`` (the run writer: slots in, rows, events, histograms and summary out)
and ``reader`` (a run directory read back, for the reports).

Import from the modules; this package itself imports nothing.
"""
