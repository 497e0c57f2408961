-- A copy's row is rewritten as it moves through its states (placed, starting, running): room left
-- on each page lets the new version stay on the page of the old one (a HOT update), which writes
-- no new entry in the table's two indexes. Applies to pages written from now on.
ALTER TABLE "instances" SET (fillfactor = 50);
