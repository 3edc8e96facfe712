//! Test support shared by the integration tests (`mod support;`): a throwaway real Dovecot
//! (`dovecot`), a fake OpenAI-compatible model server (`llm`), a TCP proxy that can black-hole
//! connections (`proxy`) and `tend run` under test (`service`). Each test binary uses a part.
#![allow(dead_code)]

pub mod dovecot;
pub mod llm;
pub mod proxy;
pub mod service;
