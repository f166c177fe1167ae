"""Process entry points: the worker, the API server and the `srec` command."""
