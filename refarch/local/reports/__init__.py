"""Each pattern's local-run report: the counts of its data path, the check that they add up
(run when the report is made, so no caller can forget it) and its lines of text, which
refarch.render prints."""
