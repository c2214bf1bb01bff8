"""Pure primitives on strings and arrays: the DNA alphabet, statistics and the written-probability rule."""
