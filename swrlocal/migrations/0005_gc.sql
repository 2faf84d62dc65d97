-- Garbage collection (`swr-local gc`, swrlocal/registry/gc.py).

-- When a repository last linked a blob (upload, mount, import). A recent link protects the blob
-- while the manifest that will name it is on its way; rows from before this column are NULL,
-- which counts as old.
ALTER TABLE repository_blobs ADD COLUMN linked TEXT;

-- The collector asks, per blob, whether any manifest or the mirror still names it.
CREATE INDEX manifest_references_by_child ON manifest_references (child_digest);
CREATE INDEX mirror_blobs_by_digest ON mirror_blobs (digest);
