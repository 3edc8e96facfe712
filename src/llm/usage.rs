//! Tokens per task: [`counting`] runs a future with a task-local counter that every model answer
//! received inside it adds its `usage` to. A task-local rather than a return value: the draft
//! code asks the model up to twice per draft and one client is shared by every mailbox task, so
//! the task that asked is the one that pays, without threading a counter through every caller.
//! Storing the counts is `store::usage`'s.

use std::sync::{Arc, Mutex};

/// Tokens a provider reported for the calls made inside one [`counting`] scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens (OpenAI `prompt_tokens`; Anthropic `input_tokens` plus cache reads/writes).
    pub input_tokens: u64,
    /// Completion tokens (OpenAI `completion_tokens`, Anthropic `output_tokens`).
    pub output_tokens: u64,
    /// Answers received (each retry of an unusable answer is one more).
    pub calls: u32,
}

tokio::task_local! {
    static USAGE: Arc<Mutex<Usage>>;
}

/// Runs `work` and returns, beside its output, the tokens of every model answer received inside
/// it (calls made outside any such scope are not counted).
pub async fn counting<F: std::future::Future>(work: F) -> (F::Output, Usage) {
    let counter = Arc::new(Mutex::new(Usage::default()));
    let out = USAGE.scope(Arc::clone(&counter), work).await;
    let usage = *counter.lock().unwrap_or_else(|e| e.into_inner());
    (out, usage)
}

/// Adds one answer's tokens to the current task's counter, if it has one.
pub(super) fn add_usage(input: u64, output: u64) {
    let _ = USAGE.try_with(|counter| {
        let mut u = counter.lock().unwrap_or_else(|e| e.into_inner());
        u.input_tokens += input;
        u.output_tokens += output;
        u.calls += 1;
    });
}
