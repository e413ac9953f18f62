"""Everything that speaks HTTP to Discourse, and the sandbox forum that imitates it."""
