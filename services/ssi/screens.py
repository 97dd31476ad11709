"""The content of each page: returns, one return's hubs (and their CSV), a record, a device, alerts."""
import csv
import io

from services.ssi.views import badge, h, pager, table

VARIANTS = {"8.14.3": "Fault return", "8.14.4": "No fault return"}
HUB_STATUSES = ("open", "overdue", "closed", "refused", "awaiting_inventory")


def _day(instant: str | None) -> str:
    return h(instant[:10]) if instant else ""


def _when(instant: str | None) -> str:
    return h(instant[:16].replace("T", " ")) if instant else ""


def returns_list(listing: dict, page_size: int) -> str:
    rows = [f"""<tr{' class="overdue"' if r["overdue"] else ""}>
<td class="id"><a href="/returns/{h(r["request_id"])}">{h(r["request_id"])}</a></td>
<td class="id">{_day(r["event_time"])}</td>
<td>{h(VARIANTS.get(r["variant"], r["variant"]))}</td><td class="num">{r["hubs"]}</td>
<td class="num">{r["accepted"]}</td><td class="num">{r["refused"]}</td><td class="num">{r["received"]}</td>
<td class="num">{r["closed"]}</td><td class="num">{r["overdue"]}{" " + badge("overdue") if r["overdue"] else ""}</td>
<td>{h(r["response_code"] or "awaiting inventory")}</td></tr>""" for r in listing["requests"]]
    if not rows:
        return '<p class="notice">No bulk returns from this party yet.</p>'
    return (table("Bulk returns, newest first",
                  ["RequestID", "Date", "Type", "Hubs", "Accepted", "Refused", "Received", "Closed",
                   "Overdue", "Response"], rows, "returns")
            + pager("/returns", {}, listing["total"], page_size, listing["offset"]))


def return_detail(found: dict, status: str | None, page_size: int) -> str:
    counts = found["counts"]
    summary = (f'<dl><dt>Type</dt><dd>{h(VARIANTS.get(found["variant"], found["variant"]))}</dd>'
               f'<dt>Date</dt><dd>{_when(found["event_time"])}</dd>'
               f'<dt>Response</dt><dd>{h(found["response_code"] or "awaiting inventory")}</dd>'
               f'<dt>Hubs</dt><dd>{found["hubs_total"]}: '
               + ", ".join(f"{counts[s]} {s.replace('_', ' ')}" for s in HUB_STATUSES if counts[s])
               + "</dd></dl>")
    options = "".join(f'<option value="{s}"{" selected" if s == status else ""}>'
                      f'{h(s.replace("_", " ").capitalize())} ({counts[s]})</option>' for s in HUB_STATUSES)
    request_id = found["request_id"]
    controls = f"""<form method="get" action="/returns/{h(request_id)}">
<label for="status">Show hubs with status</label>
<select id="status" name="status"><option value="">Any ({found["hubs_total"]})</option>{options}</select>
<button type="submit">Filter</button></form>
<p><a id="csv" href="/returns/{h(request_id)}/hubs.csv" download>Download every hub as CSV</a></p>"""
    rows = [f"""<tr{' class="overdue"' if hub["status"] == "overdue" else ""}>
<td class="num">{hub["position"] + 1}</td><td class="id">{h(hub["device_id"])}</td><td>{h(hub["code"])}</td>
<td>{f'<a href="/records/{h(hub["reference"])}">{h(hub["reference"])}</a>' if hub["reference"] else ""}</td>
<td class="id">{_day(hub["due_by"])}</td><td>{badge(hub["status"])}</td><td>{_history(hub["history"])}</td></tr>"""
            for hub in found["hubs"]]
    caption = f"Hubs{' with status ' + status.replace('_', ' ') if status else ''}, in request order"
    hubs = (table(caption, ["#", "Device ID", "Code", "Returns Remedy Record", "Due by", "Status", "History"],
                  rows, "hubs") if rows else '<p class="notice">No hub of this return has that status.</p>')
    return (summary + controls + hubs
            + pager(f"/returns/{request_id}", {"status": status}, found["total"], page_size, found["offset"]))


def _history(events: list[dict]) -> str:
    if not events:
        return ""
    items = "".join(f"<li>{_when(e['at'])} {h(e['event'])}{': ' + h(e['detail']) if e.get('detail') else ''}</li>"
                    for e in events)
    return f'<ol class="history">{items}</ol>'


def record(found: dict) -> str:
    fields = [("Device ID", found["device_id"]), ("GPF", found["gpf_id"]), ("Request", found["request_id"]),
              ("Return type", found["return_type"]), ("Fault reason", found["fault_reason"]),
              ("Opened", _when(found["created_at"])), ("Due by", _day(found["due_by"])),
              ("Received", _when(found["received_at"])), ("Outcome", found["outcome"])]
    listed = "".join(f"<dt>{name}</dt><dd>{h(value) if name not in ('Opened', 'Due by', 'Received') else value}</dd>"
                     for name, value in fields if value)
    return (f'<p>{badge(found["status"])}</p><dl>{listed}</dl><h2>Status history</h2>'
            + _history(found["history"])
            + f'<p><a href="/returns/{h(found["request_id"])}">Back to the return</a></p>')


def lookup_form(query: str) -> str:
    return f"""<form method="get" action="/inventory" role="search">
<label for="q">Device ID or MPxN</label>
<input id="q" name="q" value="{h(query)}" size="30" required>
<button type="submit">Look up</button></form>"""


def devices(found: list[dict], ages: dict[str, str]) -> str:
    return "".join(_device(d, ages.get(d["DeviceID"], "")) for d in found)


def _device(d: dict, age: str) -> str:
    fields = [("Device type", h(d["DeviceType"])),
              ("SMI Status", h(d["DeviceStatus"] or "none (Type 2 device)")),
              ("Status since", _when(d.get("StatusSince"))),
              ("Manufacturer / model", f'{h(d["DeviceManufacturer"])} / {h(d["DeviceModel"])}'),
              ("Firmware", h(d.get("DeviceFirmwareVersion"))), ("CSP region", h(d["CSPRegion"])),
              ("S1SP", h(d.get("S1SP"))), ("MPxN", h(d.get("ImportMPxN"))),
              ("Commissioned", h(d.get("DateCommissioned"))), ("Housekeeping", age)]
    listed = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in fields if value)
    anchor = f'd-{h(d["DeviceID"])}'
    return (f'<section aria-labelledby="{anchor}"><h2 id="{anchor}">{h(d["DeviceID"])}</h2>'
            f'<dl>{listed}</dl></section>')


def pending_age(age: dict | None) -> str:
    if age is None:
        return "housekeeping is not answering"
    months = f'Pending {age["age_months"]} month{"s" if age["age_months"] != 1 else ""}'
    due = age["due_at"][:10]
    if age["excluded"]:
        return h(f"{months}; retained: its type is excluded from housekeeping (policy {age['policy_version']})")
    if age["decision"] == "retain-never-active":
        return h(f"{months}; due {due} but retained: it never left Pending (policy {age['policy_version']})")
    if age["decision"] == "remove":
        return h(f"{months}; due since {due}: removed at the next housekeeping run (policy {age['policy_version']})")
    return h(f"{months}; removed if still Pending on {due} (policy {age['policy_version']}, "
             f"{age['months']} months)")


def alerts(listing: list[dict], total: int, page_size: int, offset: int) -> str:
    names = {"N8": "N8: device removed from the inventory", "N999": "N999: Comms Hub return overdue"}
    rows = [f"""<tr><td class="id">{_when(a["sent_at"])}</td><td>{h(names.get(a["code"], a["code"]))}</td>
<td class="id">{h(a["device_id"])}</td><td>{_alert_detail(a["payload"])}</td></tr>""" for a in listing]
    if not rows:
        return '<p class="notice">No alerts for this party.</p>'
    return (table("DCC Alerts, newest first", ["Sent", "Alert", "Device ID", "Detail"], rows, "alerts")
            + pager("/alerts", {}, total, page_size, offset))


# The fields of a DCCAlert payload the Device ID column already shows.
_DEVICE_FIELDS = {"DeviceID", "CommsHubDeviceID"}


def _alert_detail(payload: dict) -> str:
    """The payload's fields but the device: e.g. DeviceStatusChange: DeviceRemovedFromInventory,
    or a CommsHubAlert's AlertCode and TimeStamp (for an overdue return, its due date)."""
    inner = next(iter(payload.values()), {})
    if not isinstance(inner, dict):
        return h(inner)
    return "; ".join(f"{h(k)}: {h(_shown(v))}" for k, v in inner.items() if k not in _DEVICE_FIELDS)


def _shown(value) -> str:
    """An element holding elements is shown by their names (an empty one decodes to "" or {})."""
    return ", ".join(value) if isinstance(value, dict) else str(value)


CSV_COLUMNS = ("position", "device_id", "code", "reference", "due_by", "status")


def hubs_csv(hubs: list[dict]) -> str:
    """Every hub of a return, one line each in request order (position counts from 1)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for hub in hubs:
        writer.writerow([hub["position"] + 1, hub["device_id"], hub["code"] or "", hub["reference"] or "",
                         hub["due_by"] or "", hub["status"]])
    return out.getvalue()
