"""Adapters that let any agent ask (docs/agents.md): guarded tools for any callable, and
one module per framework (MCP, pydantic-ai, the OpenAI Agents SDK, LangChain 1.x
middleware), each importing its framework only inside itself (its extra)."""
