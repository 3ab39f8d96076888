"""The development stack: the reference approvals platform and the launcher of the whole stack.

Not part of the product: the worker and the agent library never import it.
Installed with the ``platform`` extra (FastAPI, uvicorn, the Temporal CLI).
"""
