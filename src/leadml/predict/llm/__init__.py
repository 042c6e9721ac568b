"""The LLM path's pure parts: what may be sent (privacy), the request (prompts), the validated answer
(schemas), what it cost (prices), what the answer may change (merge) and when not to call (guard).

Nothing here does HTTP, reads settings or touches the database; scoring/llm.py does the calling.
"""
