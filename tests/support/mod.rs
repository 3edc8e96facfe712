//! Test support shared by the integration tests (`mod support;`): a throwaway real Dovecot
//! (`dovecot`), a fake model server speaking OpenAI's and Anthropic's protocols (`llm`), a TCP
//! proxy that injects faults on the IMAP wire (`proxy`, reading IMAP framing with `framing`),
//! `tend once` behind it (`faulty`) and `tend run` under test (`service`). Each test binary uses
//! a part.
#![allow(dead_code)]

pub mod dovecot;
pub mod faulty;
mod framing;
pub mod llm;
pub mod proxy;
pub mod service;
