-- Search terms of records: (field, normalised term) pairs that the contexts above
-- compute from a record's value and write in the same transaction (see src/records.rs).
-- Terms are searched exactly or by prefix; binary collation makes prefixes ranges.
CREATE TABLE record_terms (
    collection  TEXT  NOT NULL,
    field       TEXT  NOT NULL,
    term        TEXT  NOT NULL,
    key         TEXT  NOT NULL,
    PRIMARY KEY (collection, field, term, key)
);
CREATE INDEX record_terms_by_key ON record_terms (collection, key, field, term);
