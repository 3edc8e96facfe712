//! A raw HTTP/1.1 server for the OpenAI-protocol client tests (`llm_http`, `llm_retry`): each
//! connection gets the next of a list of exact responses, and the request it carried is reported
//! back; plus the config, chat and answer those tests share. Raw bytes rather than `llm`'s
//! fake server, so a test can send what no well-behaved server would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use tend::config::{LlmConfig, Provider, Secret};
use tend::llm::{AnswerSchema, ChatMessage, LlmError, Role};

/// What the server saw.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

/// Serves one connection with `response` (raw bytes after the status line is chosen by the
/// caller), reports the request, and closes. Returns the base URL.
pub fn serve_once(response: Vec<u8>) -> (String, mpsc::Receiver<Request>) {
    serve_in_turn(vec![response])
}

/// Serves one connection per response, in this order, reporting each request.
pub fn serve_in_turn(responses: Vec<Vec<u8>>) -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for response in responses {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            serve_one(stream, response, &tx);
        }
    });
    (base, rx)
}

pub fn serve_one(stream: std::net::TcpStream, response: Vec<u8>, tx: &mpsc::Sender<Request>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').unwrap();
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    let _ = tx.send(Request {
        method,
        path,
        headers,
        body,
    });
    let mut stream = stream;
    // The client may hang up early (a capped body): ignore write errors.
    let _ = stream.write_all(&response);
    let _ = stream.flush();
}

pub fn http(status: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// No retries: most tests here look at what one answer becomes; `retried` turns them on.
pub fn config(base_url: &str, api_key: Option<PathBuf>) -> LlmConfig {
    LlmConfig {
        provider: Provider::OpenAi,
        max_retries: 0,
        base_url: base_url.into(),
        model: "test-model".into(),
        api_key: api_key.map(Secret::File),
        timeout: Duration::from_secs(5),
        max_tokens: 321,
        temperature: 0.3,
        frequency_penalty: None,
        ca_file: None,
    }
}

pub fn schema() -> AnswerSchema {
    // The draft's schema without stages: these tests are about the HTTP layer.
    tend::draft::prompt::answer_schema(&tend::config::Pipeline {
        stages: vec![],
        ..Default::default()
    })
}

pub fn format_type(req: &Request) -> String {
    req.json()["response_format"]["type"]
        .as_str()
        .unwrap_or("(none)")
        .to_string()
}

pub fn chat() -> Vec<ChatMessage> {
    vec![
        ChatMessage {
            role: Role::System,
            content: "be brief".into(),
        },
        ChatMessage {
            role: Role::User,
            content: "hello ✓".into(),
        },
    ]
}

pub const OK: &str = r#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"{\"needs_reply\":true}"},"finish_reason":"stop"}]}"#;

pub fn key_file(dir: &tempfile::TempDir, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.path().join("api_key");
    std::fs::write(&path, "sk-test-123\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

pub fn kind(err: anyhow::Error) -> LlmError {
    err.downcast::<LlmError>()
        .unwrap_or_else(|e| panic!("not an LlmError: {e:#}"))
}
