"""Workers: claim due work from the database and do it, once, on any number of hosts."""
