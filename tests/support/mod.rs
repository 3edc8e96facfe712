//! Test support shared by the integration tests (`mod support;`): a throwaway real Dovecot
//! (`dovecot`) and a fake OpenAI-compatible model server (`llm`). Each test binary uses a part.
#![allow(dead_code)]

pub mod dovecot;
pub mod llm;
pub mod proxy;
