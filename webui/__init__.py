"""The browser UI: layout (Gradio components and wiring), render (Jinja2 templates), handlers (plain functions
returning Changes), the visitor (identity by a browser-held token) and the reason writer (the one LLM queue)."""
