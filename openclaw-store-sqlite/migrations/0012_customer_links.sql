-- Signed-in users (Firebase uids) linked to an existing customer id, such as a WHMCS client
-- id. A user without a link acts for the customer named by their uid.
CREATE TABLE customer_links (
    uid         TEXT NOT NULL PRIMARY KEY,
    customer_id TEXT NOT NULL,
    linked_at   TEXT NOT NULL
) STRICT;
