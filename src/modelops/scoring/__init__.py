"""ScoreFlow's library: read the input in shards, score them, merge; `steps` wires them."""
