//! Puts a draft into Drafts exactly once.
