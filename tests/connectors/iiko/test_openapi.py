"""The OpenAPI validator the other iiko tests rely on: it must catch what iiko would refuse, and only that."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.connectors.iiko.conftest import sample
from tests.connectors.iiko.openapi import spec

pytestmark = pytest.mark.samples

CREATE = "/api/1/deliveries/create"
ORG = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"


def delivery(**order: Any) -> dict[str, Any]:
    return {"organizationId": ORG, "order": {
        "phone": "+79161234567", "orderServiceType": "DeliveryByClient",
        "items": [{"type": "Product", "productId": ORG, "amount": Decimal(1), "price": Decimal(10)}], **order}}


@pytest.mark.parametrize(("path", "request_file"), [
    ("/api/1/organizations", "Organizations/OrganizationsRequest.json"),
    ("/api/1/terminal_groups", "TerminalGroups/TerminalGroupsRequest.json"),
    ("/api/1/nomenclature", "Menu/NomenclatureRequest.json"),
    ("/api/1/stop_lists", "Menu/OutOfStockRequest.json"),
    ("/api/1/deliveries/by_id", "Deliveries/RetrieveDeliveryByIdRequest.json"),
])
def test_iikos_own_request_examples_are_valid(path: str, request_file: str) -> None:
    assert spec().request_errors(path, sample(f"iikocloud-redoc-fixtures/{request_file}")) == []


def test_numbers_sent_as_text_are_refused() -> None:
    # The body of front.api.sdk issue 567, which iiko then failed to create.
    body = sample("issue-and-test-payloads/order-create-table-request_front-api-sdk-issue-567.json")
    assert spec().request_errors("/api/1/order/create", body) == [
        "order/items/0/amount: '1' is not of type 'number'", "order/items/0/price: '10' is not of type 'number'"]


def test_a_subclass_may_carry_its_own_and_its_bases_fields() -> None:
    assert spec().request_errors(CREATE, delivery(customer={"type": "regular", "name": "Анна", "gender": "Female"},
                                                  comment=None)) == []


def test_the_discriminator_chooses_the_subclass() -> None:
    # "gender" belongs to a regular customer only; a one-time customer must not carry it.
    problems = spec().request_errors(CREATE, delivery(customer={"type": "one-time", "name": "Анна",
                                                                "gender": "Female"}))
    assert problems == ["order/customer: Additional properties are not allowed ('gender' was unexpected)"]
    assert spec().request_errors(CREATE, delivery(customer={"type": "vip", "name": "Анна"})) == [
        "order/customer/type: 'vip' is not one of ['regular', 'one-time']"]


def test_unknown_fields_and_missing_required_ones_are_caught() -> None:
    assert spec().request_errors("/api/1/stop_lists/clear", {"organizationId": ORG, "terminalGroupId": ORG,
                                                             "force": True}) == [
        "(body): Additional properties are not allowed ('force' was unexpected)"]
    assert spec().request_errors("/api/1/stop_lists/clear", {"organizationId": ORG}) == [
        "(body): 'terminalGroupId' is a required property"]


def test_answers_are_checked_per_status() -> None:
    assert spec().response_errors("/api/1/commands/status", 410, {"correlationId": ORG,
                                                                  "errorDescription": "gone"}) == []
    assert spec().response_errors("/api/1/commands/status", 200, {"state": "Done"}) == [
        "state: 'Done' is not one of ['InProgress', 'Success', 'Error']"]
    assert spec().response_errors("/api/1/organizations", 418, {}) == [
        "POST /api/1/organizations does not declare a 418 answer"]


def test_webhook_events_are_checked_by_their_type() -> None:
    event = {"eventType": "StopListUpdate", "eventTime": "2024-01-02 03:04:05.678", "organizationId": ORG,
             "correlationId": ORG, "eventInfo": {"terminalGroupsStopListsUpdates": [{"id": ORG, "isFull": "yes"}]}}
    assert spec().webhook_errors([event]) == [
        "[0]eventInfo/terminalGroupsStopListsUpdates/0/isFull: 'yes' is not of type 'boolean'"]
    assert spec().webhook_errors([{**event, "eventType": "Unheard"}]) == [
        "[0]: no webhook schema for eventType 'Unheard'"]
