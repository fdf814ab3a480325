"""Pure rules: reports, cases, policy, priority, deadlines. No I/O, no project imports."""
