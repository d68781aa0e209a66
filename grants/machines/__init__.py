"""The Specs of each machine, run by the one transition service (workflows.engine)."""
