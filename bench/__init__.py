"""Benchmarks (`make bench`): push latency and fan-out, alert matching, map load; each beside a baseline
measured in the same run. Not part of the test suite. Results go to bench/results/ as JSON and markdown."""
