"""Code that runs on a caching edge (docs/edges.md): standard library only, sent over SSH as is."""
