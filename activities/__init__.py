"""Every side effect of srec, as Temporal activities grouped by concern."""
