"""L1 agents: the runner process, backends (anthropic, scripted, claude-code), tools and their sandbox."""
