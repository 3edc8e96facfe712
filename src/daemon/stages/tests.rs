//! The stage step against a real sled store and a scripted model: newest first within the
//! cap, a server failure stops the calls and asks again later, a refused request is not paid
//! for again, and a pass whose model went down makes no stage call.

use super::*;
use crate::draft::test_support::{email, mailbox};
use crate::llm::{AnswerSchema, ChatMessage};
use crate::parse::Addr;
use std::sync::Mutex;

/// A model that gives these answers in turn and counts the calls.
struct Scripted {
    answers: Mutex<Vec<Result<String, LlmError>>>,
    calls: Mutex<u32>,
}

impl Scripted {
    fn new(mut answers: Vec<Result<String, LlmError>>) -> Scripted {
        answers.reverse();
        Scripted {
            answers: answers.into(),
            calls: Mutex::new(0),
        }
    }

    fn calls(&self) -> u32 {
        *self.calls.lock().unwrap()
    }
}

impl LanguageModel for Scripted {
    async fn complete(
        &self,
        _messages: &[ChatMessage],
        schema: Option<&AnswerSchema>,
    ) -> anyhow::Result<String> {
        assert_eq!(schema.map(|s| s.name), Some("stage"));
        *self.calls.lock().unwrap() += 1;
        let next = self.answers.lock().unwrap().pop().expect("asked too often");
        Ok(next?)
    }
}

fn qualified() -> Result<String, LlmError> {
    Ok(r#"{"stage": "qualified", "stage_evidence": "We need 40 seats."}"#.into())
}

/// Two buyers' questions, `older` and `newer` (ids), an hour and ten minutes old.
fn store_with_two_questions(dir: &std::path::Path, now: DateTime<Utc>) -> Store {
    let store = Store::open(dir, 0).unwrap();
    let mb = mailbox();
    for (id, who, minutes) in [
        ("old@a.test", "ann@a.test", 60),
        ("new@b.test", "ben@b.test", 10),
    ] {
        let from = Addr {
            name: None,
            email: who.into(),
        };
        let mut m = email(
            id,
            from,
            "We need 40 seats.",
            now.timestamp() - minutes * 60,
        );
        m.to = vec![Addr {
            name: None,
            email: "alice@shop.example".into(),
        }];
        store.save_all(&mb.name, &mb.identity, &[m]).unwrap();
    }
    store
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(f)
}

fn capped(n: u32) -> Pipeline {
    Pipeline {
        max_stage_calls_per_day: n,
        ..Pipeline::default()
    }
}

#[test]
fn newest_first_within_the_cap_and_each_buyer_message_once() {
    let (dir, now) = (tempfile::tempdir().unwrap(), Utc::now());
    let store = store_with_two_questions(dir.path(), now);
    let (mb, stop) = (mailbox(), CancellationToken::new());
    let model = Scripted::new(vec![qualified(), qualified()]);
    let none = HashSet::new();
    let r = run(infer(&mb, &capped(1), &store, &model, &none, now, &stop)).unwrap();
    assert_eq!((r.asked, r.changed, r.capped), (1, 1, 1));
    assert_eq!(
        store.stage_history("new@b.test").unwrap()[0].stage,
        "qualified"
    );
    assert!(store.stage_history("old@a.test").unwrap().is_empty());
    // A bigger cap the same day: the older one now, the newer not again.
    let r = run(infer(&mb, &capped(5), &store, &model, &none, now, &stop)).unwrap();
    assert_eq!((r.asked, r.capped), (1, 0));
    assert_eq!(model.calls(), 2);
    let r = run(infer(&mb, &capped(5), &store, &model, &none, now, &stop)).unwrap();
    assert_eq!(r.asked, 0, "nothing new from either buyer");
    let day = now.with_timezone(&mb.timezone).date_naive();
    assert_eq!(store.stage_calls(&mb.name, day).unwrap(), 2);
    assert_eq!(store.usage(&mb.name, day).unwrap().drafts, 0);
}

#[test]
fn a_server_failure_stops_the_calls_and_they_are_asked_again_later() {
    let (dir, now) = (tempfile::tempdir().unwrap(), Utc::now());
    let store = store_with_two_questions(dir.path(), now);
    let (mb, stop) = (mailbox(), CancellationToken::new());
    let model = Scripted::new(vec![
        Err(LlmError::Unavailable("connection refused".into())),
        qualified(),
        qualified(),
    ]);
    let none = HashSet::new();
    let r = run(infer(&mb, &capped(5), &store, &model, &none, now, &stop)).unwrap();
    assert_eq!(r.asked, 0);
    assert!(r.error.unwrap().contains("unavailable"));
    assert_eq!(model.calls(), 1, "no second call after the failure");
    assert_eq!(store.stage_seen("new@b.test").unwrap(), None, "asked again");
    let r = run(infer(&mb, &capped(5), &store, &model, &none, now, &stop)).unwrap();
    assert_eq!(r.asked, 2);
}

#[test]
fn a_refused_request_is_not_paid_for_again() {
    let (dir, now) = (tempfile::tempdir().unwrap(), Utc::now());
    let store = store_with_two_questions(dir.path(), now);
    let (mb, stop) = (mailbox(), CancellationToken::new());
    let model = Scripted::new(vec![
        Err(LlmError::Rejected("context too long".into())),
        qualified(),
    ]);
    let none = HashSet::new();
    run(infer(&mb, &capped(5), &store, &model, &none, now, &stop)).unwrap();
    assert_eq!(
        store
            .stage_seen("new@b.test")
            .unwrap()
            .map(|s| s.message_id),
        Some("new@b.test".into())
    );
    let r = run(infer(&mb, &capped(5), &store, &model, &none, now, &stop)).unwrap();
    assert_eq!(r.asked, 1, "only the other thread");
    assert_eq!(model.calls(), 2);
    assert!(store.stage_history("new@b.test").unwrap().is_empty());
}

#[test]
fn threads_attend_asked_about_and_a_pass_with_the_model_down_get_no_stage_call() {
    let (dir, now) = (tempfile::tempdir().unwrap(), Utc::now());
    let store = store_with_two_questions(dir.path(), now);
    let (mb, stop) = (mailbox(), CancellationToken::new());
    let model = Scripted::new(vec![qualified()]);
    let down = [Action::ModelDown {
        thread_id: "new@b.test".into(),
        error: "down".into(),
        retry_after: None,
    }];
    let r = run(after_attend(
        &mb,
        &Pipeline::default(),
        &store,
        &model,
        &down,
        now,
        &stop,
    ));
    assert_eq!((r.asked, model.calls()), (0, 0));
    let vetoed = [Action::Vetoed {
        thread_id: "new@b.test".into(),
        reason: "thanks only".into(),
    }];
    let r = run(after_attend(
        &mb,
        &Pipeline::default(),
        &store,
        &model,
        &vetoed,
        now,
        &stop,
    ));
    assert_eq!(r.asked, 1);
    assert!(store.stage_seen("new@b.test").unwrap().is_none());
    assert!(store.stage_seen("old@a.test").unwrap().is_some());
}
