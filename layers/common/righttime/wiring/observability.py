"""One Logger and one Metrics for the whole package; every module imports them from here.

Tracer is deliberately absent: it imports the X-Ray SDK even when tracing is off, which costs cold start.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="righttime")
metrics = Metrics(namespace="righttime", service="righttime")
