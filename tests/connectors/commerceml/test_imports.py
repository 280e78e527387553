"""The import runner alone: what a file 1C uploaded becomes, with no exchange and no connector around it."""

from __future__ import annotations

import logging
from pathlib import Path

from connectors.commerceml.imports import ORDER, apply_order_changes
from connectors.commerceml.items import OrderDocument
from connectors.commerceml.writer import write_orders
from hub.connector import ConnectorContext
from hub.model import OrderStatus
from hub.values import json_dumps, json_loads
from tests.connectors.commerceml.conftest import MOSCOW
from tests.connectors.commerceml.test_mappings import DictState
from tests.connectors.commerceml.test_server import order


def test_a_file_of_changed_orders_moves_the_kept_orders_forward_by_the_status_table(tmp_path: Path) -> None:
    state = DictState()
    state.put_many(ORDER, {"shop:1001": json_dumps({"status": "accepted"}),
                           "shop:1002": json_dumps({"status": "in_delivery"})})
    changes = tmp_path / "documents.xml"
    with changes.open("wb") as out:
        write_orders(out, [
            OrderDocument(order("shop:1001").model_copy(update={"channel": "hub"}),
                          requisites={"Статус заказа": ["Собран"], "Номер по 1С": ["ЗК-00001"]}),
            OrderDocument(order("shop:1002").model_copy(update={"channel": "hub"}),
                          requisites={"Статус заказа": ["Собран"]}),
            OrderDocument(order("elsewhere:1").model_copy(update={"channel": "hub"}))],
            timezone=MOSCOW, version="2.08")
    context = ConnectorContext(source="onec", timezone=MOSCOW, log=logging.getLogger("test"))

    step = apply_order_changes(changes, state, context, {"Собран": OrderStatus.READY})

    assert (step.position, step.done) == (3, True)
    [problem] = step.problems
    assert "an order hub never sent to 1C" in str(problem)
    first, second = (json_loads(state.get(ORDER, key) or "") for key in ("shop:1001", "shop:1002"))
    assert (first["status"], first["facts"]["number_1c"]) == ("ready", "ЗК-00001")
    assert second["status"] == "in_delivery"  # 1C's «Собран» is behind what the order already reached
