"""L2 core: the ChatML facade and the collaborators it composes (creation, archive, collection, agents)."""
