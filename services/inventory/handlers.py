"""Inventory's handler tables: each message type it takes, and each Service Request variant it
completes, to one handler, with how the executor runs it (`executor.Mode`).

Adding a command or a variant is one row here and its handler; a type or variant served without
a row stops the service at start-up (`shared.dispatch`).
"""
from aiokafka.structs import ConsumerRecord

from services.inventory import additions, commands
from services.inventory import service_requests as sr
from services.inventory.context import SERVICE
from services.inventory.executor import Mode
from shared.dispatch import HandlerTable, Row, variant_table
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.feeds import CommsHubDelivered
from shared.kafka import Output
from shared.messages import EnrolSMETS1Device, HandleServiceRequest, RemoveDevice, ReturnHubs
from shared.service import Context
from shared.settings import Settings

SERVES = ("HandleServiceRequest", "RemoveDevice", "ReturnHubs", "EnrolSMETS1Device", "CommsHubDelivered")


def _variant(variant: str, handler, mode: Mode) -> Row:
    return Row(SERVICE_REQUESTS[variant].model, handler, mode)


VARIANTS = variant_table(SERVICE, {
    "12.2": _variant("12.2", sr.prenotify, Mode.ADDS),
    "8.2": _variant("8.2", sr.read_inventory, Mode.ON_WORKING_SET),
    "8.3": _variant("8.3", sr.decommission, Mode.ON_WORKING_SET),
    "8.4": _variant("8.4", sr.update_inventory, Mode.ON_WORKING_SET),
    "8.14.1": _variant("8.14.1", sr.commission_hub, Mode.ON_WORKING_SET),
    "8.14.2": _variant("8.14.2", sr.install_hub, Mode.ON_WORKING_SET),
})


def route_request(inv: Context, record: ConsumerRecord,
                  command: HandleServiceRequest) -> tuple[Row, sr.Request] | Output:
    request = sr.validate(inv, record, command)
    return (VARIANTS[request.variant], request) if isinstance(request, sr.Request) else request


def table(settings: Settings) -> HandlerTable:
    topics = settings.topics
    request = Row(HandleServiceRequest, route_request, Mode.BY_VARIANT)
    return HandlerTable(SERVICE, {
        # Applied through the API (`applied`), each named by its place on the requests topic.
        topics.requests: {"HandleServiceRequest": request},
        topics.inventory_commands: {
            "HandleServiceRequest": request,
            "RemoveDevice": Row(RemoveDevice, commands.on_remove_device, Mode.ALONE),
            "ReturnHubs": Row(ReturnHubs, commands.on_return_hubs, Mode.ALONE),
            "EnrolSMETS1Device": Row(EnrolSMETS1Device, additions.smets1_enrolled, Mode.ADDS),
        },
        topics.csp_events: {"CommsHubDelivered": Row(CommsHubDelivered, additions.hub_delivered, Mode.ADDS)},
    }, serves=SERVES, takes={topics.csp_events: "CommsHubDelivered from the CSP feed"},
        # The CSP feed is shared with returns, which owns the receipts of returned hubs.
        others={topics.csp_events: {"ReturnReceived"}})
