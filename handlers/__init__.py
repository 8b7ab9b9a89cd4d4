"""Channel-neutral conversation logic: `Incoming` in, `Reply` list out. No platform SDK here."""
