-- Which audit writer has the turn (see src/audit_log.rs): a writer that lost several
-- races in a row takes it, so that a busy server cannot starve a CLI command; the
-- others' appends wait until it gives the turn back or the turn expires.
CREATE TABLE audit_turn (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    holder  TEXT    NOT NULL,
    until   BIGINT  NOT NULL -- unix microseconds
);
