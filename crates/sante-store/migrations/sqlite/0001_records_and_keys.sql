-- Generic versioned records: the storage API's key/value core (see src/records.rs).
CREATE TABLE records (
    collection  TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    version     BIGINT  NOT NULL,
    value       BLOB    NOT NULL,
    updated_at  BIGINT  NOT NULL, -- unix microseconds
    PRIMARY KEY (collection, key)
);

-- Per-owner data keys for the blob store, wrapped by a master key (see src/blob.rs).
CREATE TABLE blob_keys (
    key_id         TEXT    NOT NULL PRIMARY KEY,
    owner          TEXT    NOT NULL,
    master_key_id  TEXT    NOT NULL,
    wrapped        BLOB    NOT NULL,
    created_at     BIGINT  NOT NULL,
    rewrapped_at   BIGINT
);
CREATE UNIQUE INDEX blob_keys_owner ON blob_keys (owner);
CREATE INDEX blob_keys_master ON blob_keys (master_key_id);
