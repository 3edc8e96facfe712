//! Pipelined FETCH: several `UID FETCH` commands in flight on one connection (RFC 3501 5.5
//! allows a client to send the next command before the last completes), so a first sync over a
//! distant link does not wait a round trip per batch. Each answer is attributed by its UID to
//! the command that asked for it (the command sets are disjoint), and each command's tagged
//! completion is checked as [`super::command::complete`] checks one: a NO or BAD is kept in
//! that command's answer, beside what did come; a cut connection or a garbled stream is an error.
//!
//! Reading is driven by the caller, one completed command at a time and oldest first: what the
//! server sends beyond that stays in the socket, so memory holds about one command's answer,
//! not the pipeline's. It does not decide what to ask again; the caller compares each answer
//! with what it asked, and must read every command it sent before running any other command.

use super::command::{self, Body};
use super::{within, FetchAnswer, Session};
use anyhow::{Context, Result};
use async_imap::imap_proto::{RequestId, Response, Status};
use std::collections::{BTreeSet, VecDeque};

/// The commands in flight on one session, oldest first.
pub struct Pipeline {
    cap: u32,
    flights: VecDeque<Flight>,
}

/// One `UID FETCH` sent and not yet handed back.
struct Flight {
    tag: RequestId,
    /// The UIDs asked for, ascending.
    asked: Vec<u32>,
    answer: FetchAnswer,
    /// UIDs whose body came (a server may repeat one).
    seen: BTreeSet<u32>,
    /// The tagged completion came.
    done: bool,
}

impl Pipeline {
    /// An empty pipeline whose fetches cut each message at `cap` bytes.
    pub fn new(cap: u32) -> Pipeline {
        Pipeline {
            cap,
            flights: VecDeque::new(),
        }
    }

    /// Commands sent and not yet handed back.
    pub fn len(&self) -> usize {
        self.flights.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flights.is_empty()
    }

    /// The command that asked for `uid`, if one in flight did.
    fn owner(&mut self, uid: u32) -> Option<&mut Flight> {
        self.flights
            .iter_mut()
            .find(|f| f.asked.binary_search(&uid).is_ok())
    }
}

impl Session {
    /// Sends `UID FETCH uids (UID INTERNALDATE BODY.PEEK[]<0.cap>)` without waiting for its
    /// answer. `uids` must be ascending and asked for by no command still in flight.
    pub async fn send_fetch(&mut self, pipe: &mut Pipeline, mut uids: Vec<u32>) -> Result<()> {
        uids.sort_unstable();
        uids.dedup();
        anyhow::ensure!(!uids.is_empty(), "a FETCH of no message");
        let set = super::uid_set(&uids);
        let cmd = format!(
            "UID FETCH {set} (UID INTERNALDATE BODY.PEEK[]<0.{}>)",
            pipe.cap
        );
        let inner = &mut self.inner;
        let fut = async { inner.run_command(&cmd).await.context("sending UID FETCH") };
        let tag = within(self.timeout, &self.host, "UID FETCH", fut).await?;
        pipe.flights.push_back(Flight {
            tag,
            asked: uids,
            answer: FetchAnswer::default(),
            seen: BTreeSet::new(),
            done: false,
        });
        Ok(())
    }

    /// Reads until the oldest command in flight has completed and hands back what it asked for
    /// and what it got; `None` when nothing is in flight. `Err` is a lost connection, a garbled
    /// answer or a timeout: the session is then unusable.
    pub async fn next_fetched(
        &mut self,
        pipe: &mut Pipeline,
    ) -> Result<Option<(Vec<u32>, FetchAnswer)>> {
        if pipe.is_empty() {
            return Ok(None);
        }
        let inner = &mut self.inner;
        let fut = async {
            let mut bye = None;
            while !pipe.flights.front().is_some_and(|f| f.done) {
                let resp = inner
                    .read_response()
                    .await
                    .context("reading the answer to UID FETCH")?;
                let Some(resp) = resp else {
                    let why = bye.map_or(String::new(), |b| format!(" (BYE: {b})"));
                    anyhow::bail!("the connection closed during UID FETCH{why}");
                };
                match resp.parsed() {
                    Response::Done {
                        tag,
                        status,
                        outcome,
                    } => match pipe.flights.iter_mut().find(|f| &f.tag == tag) {
                        Some(flight) => {
                            flight.answer.refused =
                                command::completion("UID FETCH", status, outcome)?.err();
                            flight.done = true;
                        }
                        None => {
                            tracing::debug!(?tag, "ignoring a completion for a tag not in flight")
                        }
                    },
                    Response::Data {
                        status: Status::Bye,
                        outcome,
                    } => bye = Some(command::words(outcome)),
                    other => match command::fetched_body(other) {
                        Some(Body::Fetched(f)) => {
                            if let Some(flight) = pipe.owner(f.uid) {
                                if flight.seen.insert(f.uid) {
                                    flight.answer.messages.push(f);
                                }
                            }
                        }
                        Some(Body::Nil(uid)) => {
                            if let Some(flight) = pipe.owner(uid) {
                                flight.answer.nil.push(uid);
                            }
                        }
                        None => {}
                    },
                }
            }
            Ok(())
        };
        // A batch may be large: allow it several timeouts' worth, still bounded.
        within(self.timeout * 4, &self.host, "UID FETCH", fut)
            .await
            .context("fetching messages")?;
        let Some(flight) = pipe.flights.pop_front() else {
            return Ok(None);
        };
        let mut answer = flight.answer;
        answer.messages.sort_unstable_by_key(|f| f.uid);
        answer.nil.retain(|uid| !flight.seen.contains(uid));
        answer.nil.sort_unstable();
        answer.nil.dedup();
        Ok(Some((flight.asked, answer)))
    }
}
