"""Pure logic, no I/O: config models, policy decisions, identity rules, diff, names, search."""
