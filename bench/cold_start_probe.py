"""One cold start, in a fresh process: import a handler and invoke it once (or, for the baseline, import
boto3, create one client and make one call), and print how long each part took.

Run by bench/cold_start.py, never imported: everything this process imports counts, so it imports nothing but
what the interpreter has already loaded before the clock starts.

    python cold_start_probe.py handler MODULE EVENT.json PATH...
    python cold_start_probe.py baseline QUEUE_URL
"""

import json
import os
import sys
import time

MARK = "COLD_START_PROBE "


class _Context:
    """Enough of Lambda's context object for Powertools."""

    function_name = "cold-start-probe"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold-start-probe"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _outcome(result: object) -> str:
    """What the invocation answered, in a few words, so the bench can check that replay did what the
    recording did (a stub that answered wrongly would make a fast but meaningless cold start)."""
    if isinstance(result, dict):
        if "statusCode" in result:
            return f"http {result['statusCode']}"
        if "batchItemFailures" in result:
            return f"{len(result['batchItemFailures'])} failed records"
        if "status" in result:
            return f"status {result['status']}"
    return type(result).__name__


def _profiled(call: "object") -> str:
    """Run the first call under cProfile and print righttime's costliest steps (cumulative) to stderr."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    outcome: str = profile.runcall(call)  # type: ignore[arg-type]
    rows = []
    for (path, _line, name), (_, _, _, cumulative, _) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        if "/righttime/" in path and name not in {"lambda_handler", "<lambda>"}:
            where = path.split("/righttime/", 1)[1].removesuffix(".py").replace("/", ".")
            rows.append((cumulative, f"{where}.{name}"))
    for cumulative, name in sorted(rows, reverse=True)[:12]:
        print(f"-- first call cost -- {cumulative * 1000:.1f} {name}", file=sys.stderr, flush=True)
    return outcome


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "handler":
        module_name, event_path, *paths = argv[1:]
        sys.path[:0] = paths
        with open(event_path, encoding="utf-8") as file:
            event = json.load(file)
        context = _Context()
        print("-- init --", file=sys.stderr, flush=True)  # splits `python -X importtime` output
        started = time.perf_counter()
        module = __import__(module_name)
        imported = time.perf_counter()
        print("-- first call --", file=sys.stderr, flush=True)  # splits `python -X importtime` output
        if os.environ.get("COLD_START_PROFILE"):
            outcome = _profiled(lambda: _outcome(module.lambda_handler(event, context)))
        else:
            outcome = _outcome(module.lambda_handler(event, context))
        called = time.perf_counter()
    else:
        (queue_url,) = argv[1:]
        print("-- init --", file=sys.stderr, flush=True)
        started = time.perf_counter()
        import boto3

        client = boto3.client("sqs")
        imported = time.perf_counter()
        print("-- first call --", file=sys.stderr, flush=True)
        response = client.send_message(
            QueueUrl=queue_url, MessageBody="{}", MessageGroupId="g", MessageDeduplicationId="d"
        )
        outcome = "sent" if response.get("MessageId") else "not sent"
        called = time.perf_counter()
    print(
        MARK
        + json.dumps({"init_s": imported - started, "first_call_s": called - imported, "outcome": outcome}),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
