//! The join step over a real store and a scripted model: a yes joins and is asked once, a
//! no, garbage or an unusable answer is judged without a join, a server failure stops the
//! step unjudged, the daily cap and a dry run make no call, free mail is never compared, and
//! a teammate's open deal counts.

use super::*;
use crate::draft::test_support::{email, mailbox};
use crate::llm::{AnswerSchema, ChatMessage};
use crate::parse::Addr;
use std::sync::Mutex;

/// Gives these answers in turn; asked once more, it fails the test.
struct Scripted(Mutex<Vec<Result<String, LlmError>>>);

impl Scripted {
    fn new(answers: Vec<Result<&str, LlmError>>) -> Scripted {
        let mut answers: Vec<_> = answers.into_iter().map(|a| a.map(String::from)).collect();
        answers.reverse();
        Scripted(Mutex::new(answers))
    }

    fn left(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

impl LanguageModel for Scripted {
    async fn complete(
        &self,
        messages: &[ChatMessage],
        schema: Option<&AnswerSchema>,
    ) -> anyhow::Result<String> {
        assert_eq!(schema.map(|s| s.name), Some("deal_join"));
        assert!(messages[1].content.contains("<new_thread>"));
        let next = self.0.lock().unwrap().pop().expect("asked too often");
        Ok(next?)
    }
}

fn addr(a: &str) -> Addr {
    Addr {
        name: None,
        email: a.into(),
    }
}

/// Carol's pilot (answered by alice a week ago) and Dan's PO from yesterday, at `domain`.
fn store_with(domain: &str, now: i64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), now).unwrap();
    let mb = mailbox();
    let mut ask = email(
        "p1",
        addr(&format!("carol@{domain}")),
        "A pilot?",
        now - 8 * 86_400,
    );
    ask.to = vec![addr("alice@shop.example")];
    ask.subject = "Pilot".into();
    let mut quote = email(
        "p2",
        addr("alice@shop.example"),
        "EUR 4,000",
        now - 7 * 86_400,
    );
    quote.to = vec![addr(&format!("carol@{domain}"))];
    quote.in_reply_to = Some("p1".into());
    quote.references = vec!["p1".into()];
    quote.subject = "Re: Pilot".into();
    let mut po = email("o1", addr(&format!("dan@{domain}")), "Our PO", now - 86_400);
    po.to = vec![addr("alice@shop.example")];
    po.subject = "PO for the pilot".into();
    store
        .save_all(&mb.name, &mb.identity, &[ask, quote, po])
        .unwrap();
    (dir, store)
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

async fn run(store: &Store, model: &Scripted, pipeline: &Pipeline, dry_run: bool) {
    judge(
        &mailbox(),
        pipeline,
        store,
        model,
        dry_run,
        now(),
        &Decoded::default(),
    )
    .await;
}

fn po(store: &Store) -> String {
    store.thread_of("o1").unwrap().unwrap()
}

#[tokio::test]
async fn a_yes_joins_the_open_deal_and_the_thread_is_asked_once() {
    let (_dir, store) = store_with("nordwind.example", now().timestamp());
    let model = Scripted::new(vec![Ok(r#"{"continues": true, "reason": "the PO"}"#)]);
    let pipeline = Pipeline::default();
    run(&store, &model, &pipeline, false).await;
    assert_eq!(model.left(), 0);
    let pilot = store.thread_of("p1").unwrap().unwrap();
    assert_eq!(
        store.join_of(&po(&store)).unwrap(),
        Some((pilot.clone(), "the PO".to_string()))
    );
    // The pilot had no open deal before it: marked, and never compared.
    assert_eq!(store.join_of(&pilot).unwrap(), None);
    assert!(store.join_judged(&pilot).unwrap().is_some());
    // Asked again, the scripted model would fail the test.
    run(&store, &model, &pipeline, false).await;
    let day = now().with_timezone(&mailbox().timezone).date_naive();
    assert_eq!(store.join_calls("alice", day).unwrap(), 1);
    assert_eq!(
        store.usage("alice", day).unwrap().calls,
        0,
        "no tokens counted outside a provider"
    );
}

#[tokio::test]
async fn a_no_garbage_or_an_unusable_answer_is_judged_without_a_join() {
    let pipeline = Pipeline::default();
    for answer in [
        Ok(r#"{"continues": false, "reason": "support"}"#),
        Ok("I think so"),
        Err(LlmError::BadAnswer("empty".into())),
    ] {
        let (_dir, store) = store_with("nordwind.example", now().timestamp());
        let model = Scripted::new(vec![answer]);
        run(&store, &model, &pipeline, false).await;
        assert_eq!(store.join_of(&po(&store)).unwrap(), None);
        assert!(store.join_judged(&po(&store)).unwrap().is_some());
    }
}

#[tokio::test]
async fn a_server_failure_leaves_the_thread_unjudged_for_the_next_pass() {
    let (_dir, store) = store_with("nordwind.example", now().timestamp());
    let model = Scripted::new(vec![Err(LlmError::Unavailable("down".into()))]);
    let pipeline = Pipeline::default();
    run(&store, &model, &pipeline, false).await;
    assert_eq!(store.join_judged(&po(&store)).unwrap(), None);
}

#[tokio::test]
async fn the_daily_cap_a_dry_run_and_free_mail_make_no_call() {
    let model = Scripted::new(vec![]);
    let (_dir, store) = store_with("nordwind.example", now().timestamp());
    let capped = Pipeline {
        max_stage_calls_per_day: 0,
        ..Pipeline::default()
    };
    run(&store, &model, &capped, false).await;
    assert_eq!(
        store.join_judged(&po(&store)).unwrap(),
        None,
        "waits for tomorrow"
    );
    run(&store, &model, &Pipeline::default(), true).await;
    assert_eq!(
        store.join_judged(&po(&store)).unwrap(),
        None,
        "a dry run records nothing"
    );
    let (_dir, store) = store_with("gmail.com", now().timestamp());
    run(&store, &model, &Pipeline::default(), false).await;
    assert_eq!(store.join_of(&po(&store)).unwrap(), None);
    let marked = store.join_judged(&po(&store)).unwrap().unwrap();
    assert_eq!(marked.reason, FREE_MAIL, "marked, so later passes skip it");
}

#[tokio::test]
async fn a_teammates_open_deal_with_the_company_is_found_from_the_other_mailbox() {
    let now = now().timestamp();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), now).unwrap();
    let mut bob = mailbox();
    bob.name = "bob".into();
    bob.identity.addresses = vec!["bob@shop.example".into()];
    let mut ask = email(
        "p1",
        addr("carol@nordwind.example"),
        "A pilot?",
        now - 8 * 86_400,
    );
    ask.to = vec![addr("bob@shop.example")];
    let mut quote = email(
        "p2",
        addr("bob@shop.example"),
        "EUR 4,000",
        now - 7 * 86_400,
    );
    quote.to = vec![addr("carol@nordwind.example")];
    quote.in_reply_to = Some("p1".into());
    store.save_all("bob", &bob.identity, &[ask, quote]).unwrap();
    let cursor = crate::store::Cursor {
        uidvalidity: 1,
        last_uid: 2,
    };
    store.set_cursor("bob", "INBOX", cursor).unwrap();
    let alice = mailbox();
    let mut order = email("o1", addr("dan@nordwind.example"), "Our PO", now - 86_400);
    order.to = vec![addr("alice@shop.example")];
    store.save_all("alice", &alice.identity, &[order]).unwrap();
    let model = Scripted::new(vec![Ok(r#"{"continues": true, "reason": "bob's pilot"}"#)]);
    run(&store, &model, &Pipeline::default(), false).await;
    let pilot = store.thread_of("p1").unwrap().unwrap();
    assert_eq!(
        store.join_of(&po(&store)).unwrap(),
        Some((pilot, "bob's pilot".to_string()))
    );
}
