"""One module per pattern: thin compositions of constructs."""
