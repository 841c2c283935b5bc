"""L1 git: one GitRepo per repository, every git command serialised by a per-repository lock."""
