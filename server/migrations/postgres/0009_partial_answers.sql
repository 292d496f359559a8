-- An answer is saved while it is still arriving, and replaced as it grows: `partial` marks one
-- that was not complete when last saved (interrupted, once nothing streams it any more).
ALTER TABLE messages ADD COLUMN partial BOOLEAN NOT NULL DEFAULT FALSE;
