"""The pages as HTML: one layout, plain tables and forms, no scripts. Every value is escaped."""
from collections.abc import Iterable
from html import escape
from urllib.parse import urlencode

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;background:#fff;line-height:1.45}
header{background:#12355b;color:#fff;padding:.6rem 1.2rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header .brand{font-weight:700;margin-right:1rem}
header a{color:#fff}
nav ul{list-style:none;display:flex;gap:1rem;margin:0;padding:0}
nav a[aria-current=page]{font-weight:700;text-decoration-thickness:3px}
header form{margin-left:auto}
main{padding:1rem 1.2rem;max-width:80rem}
a{color:#0b4f9c}
a:focus,button:focus,input:focus,select:focus{outline:3px solid #ffbf47;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#ffbf47;color:#000;padding:.4rem}
table{border-collapse:collapse;margin:.6rem 0;width:100%}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #b1b4b6;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.id{white-space:nowrap}
tr.overdue td{background:#fde8e8}
.badge{display:inline-block;padding:0 .4rem;border-radius:.3rem;font-weight:700;font-size:.9em}
.badge.overdue{background:#8a1c1c;color:#fff}
.badge.refused{background:#4b4b4b;color:#fff}
.badge.closed{background:#1d5e2c;color:#fff}
.badge.open{background:#12355b;color:#fff}
.notice{border-left:5px solid #12355b;background:#eef1f4;padding:.5rem .8rem}
.error{border-left:5px solid #8a1c1c;background:#fde8e8;padding:.5rem .8rem}
label{display:block;font-weight:600;margin:.5rem 0 .2rem}
input,select,button{font:inherit;padding:.3rem .5rem}
button{background:#12355b;color:#fff;border:2px solid #12355b;border-radius:.25rem;cursor:pointer}
header button{background:#fff;color:#12355b}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}
dt{font-weight:600}
ol.history{margin:0;padding-left:1.2rem;font-size:.9em}
.pager{display:flex;gap:1rem;align-items:center}
"""

NAV = (("returns", "/returns", "Returns"), ("inventory", "/inventory", "Inventory"),
       ("alerts", "/alerts", "Alerts"))


def h(value) -> str:
    return "" if value is None else escape(str(value), quote=True)


def page(title: str, body: str, party: str | None = None, party_name: str | None = None,
         current: str | None = None) -> str:
    nav = ""
    if party:
        links = "".join(
            f'<li><a href="{href}"{" aria-current=page" if key == current else ""}>{label}</a></li>'
            for key, href, label in NAV)
        nav = (f'<nav aria-label="Main"><ul>{links}</ul></nav>'
               f'<form method="post" action="/sign-out"><span>{h(party_name)} ({h(party)})</span> '
               f'<button type="submit">Sign out</button></form>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>{h(title)} · SMI Self-Service</title><style>{STYLE}</style></head><body>'
            f'<a class="skip" href="#content">Skip to content</a>'
            f'<header><span class="brand">SMI Self-Service</span>{nav}</header>'
            f'<main id="content"><h1>{h(title)}</h1>{body}</main></body></html>')


def table(caption: str, headers: Iterable[str], rows: Iterable[str], table_id: str = "") -> str:
    head = "".join(f'<th scope="col">{h(name)}</th>' for name in headers)
    ident = f' id="{h(table_id)}"' if table_id else ""
    return (f'<table{ident}><caption>{h(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def pager(path: str, params: dict, total: int, limit: int, offset: int) -> str:
    if total <= limit:
        return ""
    def link(to: int, label: str, rel: str) -> str:
        query = urlencode({**{k: v for k, v in params.items() if v}, "page": to // limit + 1})
        return f'<a rel="{rel}" href="{h(path)}?{h(query)}">{label}</a>'
    parts = []
    if offset > 0:
        parts.append(link(max(offset - limit, 0), "Previous page", "prev"))
    pages = (total + limit - 1) // limit
    parts.append(f"<span>Page {offset // limit + 1} of {pages} ({total} in all)</span>")
    if offset + limit < total:
        parts.append(link(offset + limit, "Next page", "next"))
    return f'<nav class="pager" aria-label="Pages">{"".join(parts)}</nav>'


def badge(status: str | None) -> str:
    if not status:
        return ""
    label = status.replace("_", " ")
    return f'<span class="badge {h(status)}">{h(label.capitalize())}</span>'


def error_page(status: int, message: str, party: str | None = None, party_name: str | None = None) -> str:
    titles = {404: "Not found", 400: "Not understood", 503: "A service is not answering"}
    return page(titles.get(status, "Error"), f'<p class="error" role="alert">{h(message)}</p>',
                party, party_name)


def sign_in(error: str | None = None, party: str | None = None) -> str:
    alert = f'<p class="error" role="alert">{h(error)}</p>' if error else ""
    return page("Sign in", f"""{alert}
<form method="post" action="/sign-in">
  <label for="party">Party ID (EUI-64, e.g. 90-B3-D5-1F-30-01-00-00)</label>
  <input id="party" name="party" value="{h(party)}" autocomplete="username" required size="30">
  <label for="secret">Credential</label>
  <input id="secret" name="secret" type="password" autocomplete="current-password" required>
  <p><button type="submit">Sign in</button></p>
</form>""")
