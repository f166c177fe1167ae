"""Benchmarks of srec's recorders (issue 3); run by hand, never part of `make test`.

.venv/bin/python -m bench.engines_cpu   # CPU per recorded minute, per engine
.venv/bin/python -m bench.concurrent    # 50 recordings through the real worker
.venv/bin/python -m bench.source        # just serve the live source, for poking
"""
