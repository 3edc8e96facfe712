//! The RFC 5322 draft: recipients, subject and threading headers computed by code, the model's
//! body, the signature, and the quoted parent. Pure; the only user of lettre.
