"""Channel adapters: turn platform updates into `Incoming` and render `Reply` back."""
