//! IMAP: connect, login, find folders, fetch since a cursor, search, append. The only user of
//! async-imap.
