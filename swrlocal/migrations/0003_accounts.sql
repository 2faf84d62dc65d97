-- Access keys (AK/SK) for signed requests (`SDK-HMAC-SHA256`), one user each.
-- The access key travels in clear in every signed request; the secret key is stored encrypted
-- with the key in `<data dir>/access-key-encryption-key`, so the database alone signs nothing.

CREATE TABLE access_keys (
    access_key   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_enc   BLOB NOT NULL,
    created      TEXT NOT NULL,
    revoked      TEXT
);

CREATE INDEX access_keys_by_user ON access_keys (user_id);
CREATE INDEX namespace_access_by_user ON namespace_access (user_id);
