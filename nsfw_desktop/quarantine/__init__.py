"""Moving files to a quarantine folder and back, journalled so a crash loses nothing."""
