-- Official images, the pull accelerator's cache and software packages (docs/packages-and-mirror.md).

-- SHA-512 of a blob, computed once (software packages show it); blobs are sha256-addressed.
CREATE TABLE blob_sha512 (
    digest      TEXT PRIMARY KEY,          -- sha256:<hex>, as in blobs.digest
    sha512      TEXT NOT NULL,             -- hex
    created     TEXT NOT NULL
);

-- Per-account accelerator prefixes: 8 random characters, one per account and upstream.
CREATE TABLE mirror_prefixes (
    prefix      TEXT PRIMARY KEY,
    domain_id   TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    source      TEXT NOT NULL CHECK (source IN ('dockerhub', 'gcr')),
    pulls       INTEGER NOT NULL DEFAULT 0,
    created     TEXT NOT NULL,
    UNIQUE (domain_id, source)
);

-- The pull-through cache. Blob bytes live in the registry's blob store; a cached blob is served
-- for a name only once it was fetched and verified for that name (the store also holds private
-- registry content, which the anonymous mirror must never hand out by digest alone).
CREATE TABLE mirror_manifests (
    source      TEXT NOT NULL,
    name        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    content     BLOB NOT NULL,
    created     TEXT NOT NULL,
    PRIMARY KEY (source, name, digest)
);

CREATE TABLE mirror_tags (
    source      TEXT NOT NULL,
    name        TEXT NOT NULL,
    tag         TEXT NOT NULL,
    digest      TEXT NOT NULL,
    updated     TEXT NOT NULL,
    PRIMARY KEY (source, name, tag)
);

CREATE TABLE mirror_blobs (
    source      TEXT NOT NULL,
    name        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    created     TEXT NOT NULL,
    PRIMARY KEY (source, name, digest)
);
