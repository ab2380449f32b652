-- The audit trail (see src/audit_log.rs and the sante-audit crate).
-- One hash chain per stream; (stream, seq) is the primary key so two writers can
-- never fork a chain: the second gets a conflict and retries on the new head.
CREATE TABLE audit_records (
    stream       TEXT    NOT NULL,
    seq          BIGINT  NOT NULL,
    epoch        BIGINT  NOT NULL,
    recorded_at  BIGINT  NOT NULL, -- unix microseconds
    event        BYTEA   NOT NULL, -- the event's canonical JSON bytes, hashed as stored
    prev_hash    BYTEA   NOT NULL,
    hash         BYTEA   NOT NULL,
    PRIMARY KEY (stream, seq)
);
CREATE INDEX audit_records_epoch ON audit_records (stream, epoch);
CREATE INDEX audit_records_time ON audit_records (recorded_at);

-- Signed checkpoints sealing each epoch.
CREATE TABLE audit_checkpoints (
    stream                TEXT    NOT NULL,
    epoch                 BIGINT  NOT NULL,
    first_seq             BIGINT  NOT NULL,
    last_seq              BIGINT  NOT NULL,
    record_count          BIGINT  NOT NULL,
    start_hash            BYTEA   NOT NULL,
    end_hash              BYTEA   NOT NULL,
    last_recorded_at      BIGINT  NOT NULL,
    sealed_at             BIGINT  NOT NULL,
    prev_checkpoint_hash  BYTEA   NOT NULL,
    checkpoint_hash       BYTEA   NOT NULL,
    key_id                TEXT    NOT NULL,
    signature             BYTEA   NOT NULL,
    PRIMARY KEY (stream, epoch)
);

-- Signed markers of retention purges: what was dropped, and the chain state after it.
CREATE TABLE audit_purges (
    stream                 TEXT    NOT NULL,
    purged_through_epoch   BIGINT  NOT NULL,
    last_seq               BIGINT  NOT NULL,
    last_end_hash          BYTEA   NOT NULL,
    last_checkpoint_hash   BYTEA   NOT NULL,
    purged_at              BIGINT  NOT NULL,
    key_id                 TEXT    NOT NULL,
    signature              BYTEA   NOT NULL,
    PRIMARY KEY (stream, purged_through_epoch)
);
