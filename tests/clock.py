"""The suite's one fixed instant: tests that pass `at=` or travel with time_machine use `NOW`."""

import datetime as dt
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
# After the demo bindings, inside 王德胜's window (docs/demo.md).
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
