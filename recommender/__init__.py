"""Retrieval and ranking: the sentence encoder and FAISS index, co-occurrence, the candidate sources and their
fusion, the learned ranker and LLM ranking, and the engine that runs a turn's recommendation from candidates to
explained cards."""
