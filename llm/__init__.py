"""Language models: the TextModel protocol and its one error, the in-process llama.cpp backend, the
OpenAI-compatible server client, and the choice between them from the settings."""
