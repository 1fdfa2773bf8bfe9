"""Sample bodies of the target's API, as it answers them, for the tests of ``users/``."""

JSON = {"content-type": "application/json"}

BACKTEST = {
    "id": "b1",
    "symbol": "AAPL",
    "strategy": "sma_cross",
    "parameters": {},
    "start": "2021-01-01",
    "end": "2023-12-31",
    "created_at": 1.5,
    "cached": False,
    "metrics": {
        "total_return": 0.1,
        "annual_return": 0.03,
        "sharpe_ratio": 1.0,
        "sortino_ratio": None,
        "calmar_ratio": None,
        "max_drawdown": 0.2,
        "win_rate": 0.5,
        "profit_factor": 1.2,
        "total_trades": 4,
    },
    "equity_curve": {"dates": ["2021-01-04"], "equity": [100000.0]},
    "trades": [
        {
            "entry_date": "2021-02-01",
            "entry_price": 10.0,
            "exit_date": "2021-03-01",
            "exit_price": 11.0,
            "return": 0.1,
            "pnl": 1.0,
            "status": "closed",
        }
    ],
}
JOB = {
    "id": "j1",
    "kind": "monte_carlo",
    "status": "queued",
    "progress": 0,
    "created_at": 1.0,
    "started_at": None,
    "finished_at": None,
    "error": None,
}
