"""One scan: walk the folders, decide what is current, decode, classify and commit."""
