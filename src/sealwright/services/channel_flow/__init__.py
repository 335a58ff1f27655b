"""Out-of-band verification (C) as a use case: channel runs stored per recipient, their
outside steps dispatched after commit, their final results turned into signed assertions,
and the rule that nobody signs while a required channel is unpassed."""
