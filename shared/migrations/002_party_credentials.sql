-- A party's sign-in credential for the Self-Service Interface: a salted scrypt hash, never the
-- secret itself (`services/ssi/credentials.py` makes and checks them). Null: the party cannot sign in.
alter table registry.parties add column if not exists credential text;
