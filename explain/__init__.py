"""Reasons for a pick: the evidence that links a film to a user, the content plan that orders those facts, the
writer that turns the plan into a line (templates or the language model), and the support check every line
passes before it is shown. Reads the catalog, the graph and a TextModel; knows nothing of candidates."""
