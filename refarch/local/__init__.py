"""Local runs: each pattern's data path driven on this machine, returning a report."""
