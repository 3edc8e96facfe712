//! Test support shared by the integration tests (`mod support;`): a throwaway real Dovecot
//! (`dovecot`), a fake model server speaking OpenAI's and Anthropic's protocols (`llm`), a TCP
//! proxy that injects faults on the IMAP wire (`proxy`, reading IMAP framing with `framing`),
//! `tend once` behind it (`faulty`), a local OAuth2 provider (`oauth`), `tend run` under test (`service`), and a raw HTTP server of
//! exact responses for the model client (`rawllm`). Each test binary uses a part.
//! A throwaway real Cyrus IMAP (`cyrus`), the one face both servers show the end-to-end cases
//! (`server`), and the small blocking IMAP client it speaks through (`imap`). Test messages
//! (`mail`) and one run of the binary (`run`).
#![allow(dead_code)]

pub mod cyrus;
pub mod dovecot;
pub mod faulty;
mod framing;
pub mod imap;
pub mod llm;
pub mod mail;
pub mod oauth;
pub mod proxy;
pub mod rawllm;
pub mod run;
pub mod server;
pub mod service;
