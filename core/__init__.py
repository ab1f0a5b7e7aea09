"""The domain core, the bottom layer: node ids, kinds and relations, the vocabulary, the domain types shared by
every package, and small helpers. It imports nothing from the rest of the project (see [tool.importlinter])."""
