use super::*;

#[test]
fn placeholder() {
    let m = Metrics::new();
    m.reviewed("alice", 2, 1);
    m.draft_written("alice");
    m.synced("alice", true, Utc::now());
    m.synced("alice", false, Utc::now());
    m.set_latencies("alice", &[10, 400, 1000, 100000, 1_000_000]);
    println!("{}", m.encode());
}
