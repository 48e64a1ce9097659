"""The ground floor every running part shares: clock, event stream, errors, sleep, tasks."""
