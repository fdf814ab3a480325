"""Media: hashing under registered signal types, storage, fetching with limits."""
