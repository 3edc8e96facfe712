//! Micro-benchmarks of the pure stages: parse (fixture messages from real clients and a
//! synthetic reply), thread (resolve a mailbox's placements, order a thread) and detect
//! (assess a thread as the store hands it back). `cargo bench --bench stages`; criterion
//! compares each run with the last one saved under target/criterion, so regressions show.

mod common;

use chrono::DateTime;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::collections::HashMap;
use std::hint::black_box;
use tend::config::Rules;
use tend::detect::{assess, Contact, Verdict};
use tend::store::Store;
use tend::thread::{order, resolve};

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for name in common::FIXTURES {
        let raw = common::fixture(name);
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_function(name, |b| b.iter(|| tend::parse::parse(black_box(&raw))));
    }
    let raw = common::raw_message(7, 3);
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.bench_function("synthetic-reply", |b| {
        b.iter(|| tend::parse::parse(black_box(&raw)))
    });
    g.finish();
}

fn thread(c: &mut Criterion) {
    let me = common::me();
    let mut g = c.benchmark_group("thread");
    // Placing 1,000 messages of 250 threads against an index that grows as they are placed,
    // as the store's msg_thread tree does during a sync (here a HashMap: no I/O).
    let mail = common::mailbox(250, 4);
    g.throughput(Throughput::Elements(mail.len() as u64));
    g.bench_function("resolve-1000", |b| {
        b.iter(|| {
            let mut known: HashMap<String, String> = HashMap::with_capacity(mail.len());
            for e in &mail {
                let p = resolve(e, &me, |id| known.get(id).cloned(), |_| None);
                known.insert(e.message_id.clone(), p.thread.clone());
                for a in e.references.iter().chain(&e.in_reply_to) {
                    known.entry(a.clone()).or_insert_with(|| p.thread.clone());
                }
            }
            known.len()
        })
    });
    // Ordering a thread handed over newest first (the worst input for a stable sort).
    for n in [6usize, 200] {
        let mut msgs = common::mailbox(1, n);
        msgs.reverse();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("order-{n}"), |b| {
            b.iter_batched(
                || msgs.clone(),
                |mut m| {
                    order(&mut m);
                    m
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn detect(c: &mut Criterion) {
    let me = common::me();
    let rules = Rules::default();
    let now = DateTime::from_timestamp(common::NOW, 0).expect("in range");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), common::NOW).expect("open store");
    // One thread of 5 (the buyer has the last word, days ago: a reply is due) and one of 6
    // (we have it, unanswered for days: a follow-up is due), each read back from the store as
    // `tend` reads it. Each verdict is checked first: the benchmark times the path it names.
    let mut mail = common::mailbox(1, 5);
    mail.extend(common::mailbox(2, 6).split_off(6));
    let saved = store.save_all("bench", &me, &mail).expect("save");
    let mut g = c.benchmark_group("detect");
    let judge = |t: &tend::thread::Thread| {
        assess(
            t,
            &me,
            &rules,
            chrono_tz::Europe::Berlin,
            &|_| Contact::default(),
            now,
        )
    };
    for (name, i) in [("assess-reply-due", 0), ("assess-followup-due", 5)] {
        let t = store
            .thread(&saved[i].thread_id)
            .expect("read")
            .expect("stored thread");
        let verdict = judge(&t);
        assert!(
            matches!(verdict, Verdict::Attention(_)),
            "{name}: {}",
            verdict.reason()
        );
        g.bench_function(name, |b| b.iter(|| judge(black_box(&t))));
    }
    g.finish();
}

criterion_group!(benches, parse, thread, detect);
criterion_main!(benches);
