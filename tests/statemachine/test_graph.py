"""The compiled dispatch table and the `transitions` machine are one graph, and the README shows it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from schemas import State
from statemachine.graph import GUARDS, MACHINE, TABLE, TRIGGERS, mermaid
from statemachine.rules import GUARD_FUNCS
from tests.paths import README


class _Model:
    """A stand-in model whose guards answer what the test says."""

    def __init__(self, state: State, answers: dict[str, bool]) -> None:
        self.state = state.value
        for name, value in answers.items():
            setattr(self, name, lambda value=value: value)


def _table_dest(state: State, trigger: str, answers: dict[str, bool]) -> State:
    for candidate in TABLE.get((state, trigger), ()):
        if all(answers[g.name] is g.expected for g in candidate.guards):
            return candidate.dest
    return state


@given(
    st.sampled_from(list(State)),
    st.sampled_from(TRIGGERS),
    st.fixed_dictionaries({name: st.booleans() for name in sorted(GUARDS)}),
)
def test_the_table_decides_exactly_as_the_machine_would(state: State, trigger: str, answers: dict[str, bool]) -> None:
    model = _Model(state, answers)
    if (state, trigger) in TABLE:
        MACHINE.events[trigger].trigger(model)
    assert model.state == _table_dest(state, trigger, answers).value


def test_every_guard_named_in_the_graph_has_a_pure_predicate() -> None:
    assert set(GUARD_FUNCS) == GUARDS


def test_every_trigger_is_declared_and_terminal_states_have_no_way_out() -> None:
    assert set(MACHINE.events) == set(TRIGGERS)
    assert not [key for key in TABLE if key[0].is_terminal]


def test_the_readme_diagram_is_generated_from_the_table() -> None:
    text = README.read_text()
    block = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block == mermaid(), "regenerate with: python -m statemachine"
