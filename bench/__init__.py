"""modelport's benchmark harness: the gateway against the raw runtime, a raw ASGI floor and
MLServer, on one machine in one run. Run it with `python -m bench.run`; never from tests."""
