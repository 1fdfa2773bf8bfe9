"""quantload: load tests for backtest and job APIs.

    locust -f locustfile.py                                   # web UI
    locust -f locustfile.py --headless -u 20 -r 5 -t 1m       # headless
    locust -f locustfile.py --headless -u 4 -t 1m ArrivalRateUser --arrival-rate 100

With no --host, the reference target is started on a free loopback port.
With no class named, the default population runs (analysts, a batch pipeline
and dashboards following jobs); name classes, or use --class-picker, for others.
"""

import plugin
from users.arrival_rate_user import ArrivalRateUser
from users.backtest_user import BacktestUser
from users.cache_user import CacheUser
from users.data_size_user import DataSizeUser
from users.database_user import DatabaseUser
from users.high_volume_user import HighVolumeUser
from users.job_arrival_user import JobArrivalUser
from users.job_user import JobUser
from users.memory_leak_user import MemoryLeakUser
from users.stress_user import StressUser
from users.websocket_user import WebSocketUser

DEFAULT_USERS = ["BacktestUser", "JobUser", "WebSocketUser"]

__all__ = [
    "ArrivalRateUser",
    "BacktestUser",
    "CacheUser",
    "DataSizeUser",
    "DatabaseUser",
    "HighVolumeUser",
    "JobArrivalUser",
    "JobUser",
    "MemoryLeakUser",
    "StressUser",
    "WebSocketUser",
]

plugin.register(DEFAULT_USERS)
