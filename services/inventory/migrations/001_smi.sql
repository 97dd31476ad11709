-- The Smart Metering Inventory: one row per device, its append-only status history, the archive
-- of devices that left it, and the messages already handled (so a redelivery changes nothing).
create schema if not exists inventory;

create table inventory.devices (
    device_id            text primary key,          -- canonical EUI-64
    device_type          text not null,
    status               text,                      -- null: Type 2 devices have no SMI Status
    status_since         timestamptz,
    manufacturer         text not null,
    model                text not null,
    firmware_version     text,
    smets_chts_version   text,
    esme_variant         text,
    csp_region           text,
    s1sp                 text,                      -- SMETS1 devices only
    mpxn                 text,
    linked_device_id     text,                      -- CHF <-> GPF; a meter's associated GPF
    notifying_party      text not null,
    notifying_party_kind text not null check (notifying_party_kind in ('service_user', 'csp')),
    responsible_supplier text,
    ordering_party       text,                      -- hubs: the party that ordered them
    ever_left_pending    boolean not null default false,
    added_at             timestamptz not null,
    commissioned_at      timestamptz
);
create index devices_mpxn on inventory.devices (mpxn) where mpxn is not null;
create index devices_pending_since on inventory.devices (status_since) where status = 'Pending';
create index devices_hub_owner on inventory.devices (ordering_party) where device_type = 'CHF';

create table inventory.status_history (
    seq         bigint generated always as identity primary key,
    device_id   text not null,
    from_status text,                               -- null: the device entered the SMI
    to_status   text,                               -- null: the device left the SMI
    at          timestamptz not null,               -- event time of the cause
    cause       text not null,
    party       text,
    reference   text                                -- RequestID or command ID
);
create index status_history_device on inventory.status_history (device_id, at);

-- Append-only: rows are never changed; they leave only together with their device, into the
-- archive, when the archiving flag of the transaction is set.
create function inventory.history_is_append_only() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' and current_setting('inventory.archiving', true) = 'on' then
        return old;
    end if;
    raise exception 'inventory.status_history is append-only (% refused)', tg_op;
end $$;
create trigger status_history_append_only before update or delete on inventory.status_history
    for each row execute function inventory.history_is_append_only();

create table inventory.archived_devices (
    device_id      text not null,
    archived_at    timestamptz not null,            -- event time of the removal
    cause          text not null,                   -- RemoveDevice or 8.4 DeleteDevice
    reason         text,
    policy_version text,
    reference      text,
    record         jsonb not null,                  -- the device row as it was
    primary key (device_id, archived_at)
);
create table inventory.archived_history (like inventory.status_history);
create index archived_history_device on inventory.archived_history (device_id, at);

create table inventory.handled_messages (
    message_id text primary key,                    -- request:<RequestID> or command:<id>
    handled_at timestamptz not null default now()
);
