"""The push path: the scheduler, alert rules, auto-posted threads and the outlets they send through."""
