"""`python -m statemachine` prints the state graph as a mermaid diagram (the README embeds it)."""

from statemachine.graph import mermaid

print(mermaid(), end="")
