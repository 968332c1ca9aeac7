"""Find similar: stored embeddings compared through an int8 matrix file."""
