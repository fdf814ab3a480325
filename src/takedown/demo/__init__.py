"""A minimal social network that uses takedown the way a real platform would."""
