"""annotate/sql's Table: statements take their table and column names from the models."""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldDoesNotExist

from annotate.models import Assignment, Pair
from annotate.sql import Table


def test_it_names_the_table_and_columns_as_the_model_does():
    a = Table(Assignment)
    assert f"{a}" == Assignment._meta.db_table
    assert (a.pair, a.pair_id, a.status) == ("pair_id", "pair_id", "status")
    assert a.cols("id", "left_is_a", alias="x") == "x.id, x.left_is_a"


def test_a_field_the_model_lacks_fails_when_the_statement_is_built():
    with pytest.raises(FieldDoesNotExist):
        Table(Pair).no_such_field  # noqa: B018
