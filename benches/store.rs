//! Micro-benchmarks of the store on a real sled database in a temp dir: filing a batch of
//! fetched messages (`save_all`, one transaction, as a sync does per batch) and reading a
//! thread back (`thread`, as every pass does). `cargo bench --bench store`.

mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;
use tend::store::Store;

fn save_all(c: &mut Criterion) {
    let me = common::me();
    let batch = common::mailbox(125, 4);
    let mut g = c.benchmark_group("store");
    // A batch takes 50-200 ms here: fewer samples over a longer time than criterion's default.
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(batch.len() as u64));
    // Into an empty store: each iteration gets a fresh database (opening it is not timed).
    g.bench_function("save_all-500-empty", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("temp dir");
                let store = Store::open(dir.path(), common::NOW).expect("open");
                (dir, store)
            },
            |(dir, store)| {
                store.save_all("bench", &me, &batch).expect("save");
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });
    // Into a store that already holds 5,000 other messages: the indexes are deeper.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), common::NOW).expect("open");
    let before = common::mailbox(1_250, 4);
    for chunk in before.chunks(500) {
        store.save_all("bench", &me, chunk).expect("save");
    }
    let mut round = 0usize;
    g.bench_function("save_all-500-onto-5000", |b| {
        b.iter_batched(
            || {
                // New Message-IDs each round, so every batch is new mail, not a re-fetch.
                round += 1;
                let mut fresh = batch.clone();
                for e in &mut fresh {
                    e.message_id = format!("r{round}.{}", e.message_id);
                }
                fresh
            },
            |fresh| store.save_all("bench", &me, &fresh).expect("save"),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn read_thread(c: &mut Criterion) {
    let me = common::me();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), common::NOW).expect("open");
    let mail = common::mailbox(1_000, 5);
    let mut ids = Vec::new();
    for chunk in mail.chunks(500) {
        let saved = store.save_all("bench", &me, chunk).expect("save");
        ids.extend(saved.into_iter().step_by(5).map(|s| s.thread_id));
    }
    let mut g = c.benchmark_group("store");
    g.bench_function("thread-5-of-5000", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ids.len();
            store.thread(black_box(&ids[i])).expect("read")
        })
    });
    g.finish();
}

criterion_group!(benches, save_all, read_thread);
criterion_main!(benches);
