"""The Faust worker of ``callassist streams``: app, agents, fixes, metrics."""
