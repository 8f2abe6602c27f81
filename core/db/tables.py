"""The Core table behind a table model, typed.

Why: bulk inserts and compare-and-set updates run on the table, not the ORM class, and SQLModel leaves the class's
`__table__` undeclared for the type checker; one typed accessor keeps those statements checked.
"""

from __future__ import annotations

from sqlalchemy import Table, inspect
from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """The table a `table=True` model maps to."""
    table = inspect(model).local_table
    assert isinstance(table, Table), f"{model.__name__} is not a table model"
    return table
