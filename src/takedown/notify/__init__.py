"""What people are told: reporters (their report's status, questions from reviewers)
and on-call. Messages are queued in the notifications outbox and sent by workers."""
