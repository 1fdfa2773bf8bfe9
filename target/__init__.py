"""quantload's reference backtest/job API: the default target and the calibration rig.

The suite never imports this package; it only launches it as a process
(``python -m target``), so it works the same against any service with this API.
"""

__version__ = "0.1.0"
