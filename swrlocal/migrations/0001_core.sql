-- Accounts, organizations, repositories, registry content and shares.
-- Timestamps are RFC 3339 UTC strings; ids of accounts and users are 32 hex characters,
-- as the real service's domain and user ids are.

CREATE TABLE domains (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created     TEXT NOT NULL
);

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    domain_id   TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    -- the account's administrator holds every right on the account's organizations
    is_admin    INTEGER NOT NULL DEFAULT 0,
    created     TEXT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,      -- sha256 hex; the token itself is never stored
    prefix      TEXT NOT NULL,             -- first characters, to tell tokens apart in listings
    created     TEXT NOT NULL,
    revoked     TEXT
);

CREATE TABLE namespaces (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    domain_id     TEXT NOT NULL REFERENCES domains(id),
    creator_id    TEXT NOT NULL,
    creator_name  TEXT NOT NULL,
    created       TEXT NOT NULL
);

CREATE TABLE namespace_access (
    namespace_id  INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth          INTEGER NOT NULL CHECK (auth IN (1, 3, 7)),
    created       TEXT NOT NULL,
    updated       TEXT NOT NULL,
    PRIMARY KEY (namespace_id, user_id)
);

CREATE TABLE repositories (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id  INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL DEFAULT 'image' CHECK (kind IN ('image', 'package')),
    category      TEXT NOT NULL DEFAULT 'other',
    description   TEXT NOT NULL DEFAULT '',
    is_public     INTEGER NOT NULL DEFAULT 0,
    creator_id    TEXT NOT NULL,
    creator_name  TEXT NOT NULL,
    num_download  INTEGER NOT NULL DEFAULT 0,
    priority      INTEGER NOT NULL DEFAULT 0,
    created       TEXT NOT NULL,
    updated       TEXT NOT NULL,
    UNIQUE (namespace_id, name)
);

-- Content-addressed blobs on disk under blobs/sha256/xx/<hex>; a repository sees a blob only
-- once it was uploaded to it, mounted into it or referenced by one of its manifests.
CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    created     TEXT NOT NULL
);

CREATE TABLE repository_blobs (
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest         TEXT NOT NULL REFERENCES blobs(digest),
    PRIMARY KEY (repository_id, digest)
);

CREATE TABLE manifests (
    repository_id   INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest          TEXT NOT NULL,
    media_type      TEXT NOT NULL,
    content         BLOB NOT NULL,
    schema_version  INTEGER NOT NULL,
    is_index        INTEGER NOT NULL,
    config_digest   TEXT,                  -- image id source; null for an index
    image_size      INTEGER NOT NULL,      -- config + layers, or the sum over an index's images
    created         TEXT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);

CREATE TABLE manifest_references (
    repository_id    INTEGER NOT NULL,
    manifest_digest  TEXT NOT NULL,
    child_digest     TEXT NOT NULL,
    child_kind       TEXT NOT NULL CHECK (child_kind IN ('blob', 'manifest')),
    PRIMARY KEY (repository_id, manifest_digest, child_digest),
    FOREIGN KEY (repository_id, manifest_digest)
        REFERENCES manifests(repository_id, digest) ON DELETE CASCADE
);

CREATE TABLE tags (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id    INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    manifest_digest  TEXT NOT NULL,
    created          TEXT NOT NULL,
    updated          TEXT NOT NULL,
    UNIQUE (repository_id, name),
    FOREIGN KEY (repository_id, manifest_digest)
        REFERENCES manifests(repository_id, digest) ON DELETE CASCADE
);

CREATE TABLE uploads (
    id             TEXT PRIMARY KEY,
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    size           INTEGER NOT NULL DEFAULT 0,
    created        TEXT NOT NULL,
    updated        TEXT NOT NULL
);

CREATE TABLE shares (
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    access_domain  TEXT NOT NULL,
    permit         TEXT NOT NULL DEFAULT 'read',
    deadline       TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    creator_id     TEXT NOT NULL,
    creator_name   TEXT NOT NULL,
    created        TEXT NOT NULL,
    updated        TEXT NOT NULL,
    PRIMARY KEY (repository_id, access_domain)
);

CREATE INDEX repositories_by_namespace ON repositories (namespace_id);
CREATE INDEX tags_by_repository ON tags (repository_id, updated);
CREATE INDEX shares_by_domain ON shares (access_domain);
