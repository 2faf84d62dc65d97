-- Signatures of webhook calls already accepted (swrlocal/containerops/signatures.py), kept until
-- their timestamp leaves the acceptance window, so that a captured signed request cannot start a
-- second run. `digest` is SHA-256 of the webhook id and the signature; `expires` is Unix seconds.
CREATE TABLE webhook_signatures (
    digest TEXT PRIMARY KEY,
    expires INTEGER NOT NULL
);

CREATE INDEX webhook_signatures_by_expiry ON webhook_signatures (expires);
