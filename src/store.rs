//! sled: messages, threads, contacts, folder cursors and the draft ledger. The only user of sled.
