//! A fake model server on 127.0.0.1:0 for tests, speaking both protocols tend knows: OpenAI's
//! chat completions (`POST /v1/chat/completions`) and Anthropic's Messages API
//! (`POST /v1/messages`). A std thread accepts connections, one thread per request, minimal
//! HTTP/1.1 (Content-Length bodies, `Connection: close`). It records every request body (and,
//! for Anthropic, the `x-api-key` and `anthropic-version` headers) and answers with what the
//! test's closure returns, in the asking protocol's shape. `GET /v1/models` lists one model;
//! anything else is a 404.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

type ReplyFn = dyn Fn(&Value) -> Reply + Send + Sync;

/// What the fake model answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with a proper answer: a `chat.completion` whose `choices[0].message.content` is this,
    /// or an Anthropic `message` whose `tool_use` input is this JSON (a text block when the
    /// request named no tool or this is not a JSON object).
    Content(String),
    /// This raw status and body (sent as application/json).
    Status(u16, String),
    /// Wait, then answer (a slow model, a client timeout).
    Delay(Duration, Box<Reply>),
    /// Add response headers (e.g. `Retry-After`) to the inner reply.
    Headers(Vec<(String, String)>, Box<Reply>),
}

/// The running server; stops accepting on drop.
pub struct FakeLlm {
    port: u16,
    requests: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
}

/// Tokens every proper answer reports in `usage` (input, output).
pub const USAGE: (u64, u64) = (120, 30);

impl FakeLlm {
    /// Start serving; `reply` sees each parsed request body (a JSON string value if the body
    /// was not JSON).
    pub fn start(reply: impl Fn(&Value) -> Reply + Send + Sync + 'static) -> FakeLlm {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake LLM");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reply: Arc<ReplyFn> = Arc::new(reply);
        {
            let requests = Arc::clone(&requests);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let requests = Arc::clone(&requests);
                    let reply = Arc::clone(&reply);
                    std::thread::spawn(move || {
                        let _ = serve(conn, &requests, &*reply);
                    });
                }
            });
        }
        FakeLlm {
            port,
            requests,
            stop,
        }
    }

    /// e.g. "http://127.0.0.1:41234/v1"
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// The root `provider = "anthropic"` takes: "http://127.0.0.1:41234" (`/v1/messages` is
    /// added by the client).
    pub fn anthropic_base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Bodies of the model requests received so far, in arrival order (Anthropic ones carry
    /// the headers that matter under `"_headers"`).
    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }

    /// The stage-only calls (`tend::draft::stage`) among the requests.
    pub fn stage_requests(&self) -> Vec<Value> {
        self.requests().into_iter().filter(is_stage).collect()
    }

    /// Every request but the stage-only and the deal-join calls: the draft calls, also those
    /// asked in plain JSON mode (no schema name) after a server refused the schema.
    pub fn draft_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| !is_stage(r) && schema_name(r) != Some("deal_join"))
            .collect()
    }
}

/// The opening of the system message of a stage-only call (`tend::draft::stage::request`).
const STAGE_PROMPT: &str = "You judge how far a sales deal has come";

/// Is this a stage-only call? Its schema says so; asked in plain JSON mode, its prompt does.
fn is_stage(request: &Value) -> bool {
    schema_name(request) == Some("stage") || request.to_string().contains(STAGE_PROMPT)
}

/// The schema a model request named, if it named one.
fn schema_name(request: &Value) -> Option<&str> {
    request["response_format"]["json_schema"]["name"]
        .as_str()
        .or_else(|| request["tool_choice"]["name"].as_str())
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, requests: &Mutex<Vec<Value>>, reply: &ReplyFn) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(());
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();

    let mut content_length = 0usize;
    let mut chunked = false;
    let mut anthropic_headers = serde_json::Map::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            let lower = name.trim().to_ascii_lowercase();
            if lower == "x-api-key" || lower == "anthropic-version" {
                anthropic_headers.insert(lower, json!(value));
            }
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    let body = if chunked {
        read_chunked(&mut reader)?
    } else {
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        body
    };

    let path = path.split('?').next().unwrap_or("");
    let anthropic = method == "POST" && path == "/v1/messages";
    let answer = if method == "POST" && path.ends_with("/chat/completions") || anthropic {
        let mut value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        let r = reply(&value);
        if let (true, Value::Object(map)) = (anthropic, &mut value) {
            map.insert("_headers".into(), Value::Object(anthropic_headers));
        }
        requests.lock().unwrap().push(value.clone());
        Some((r, value))
    } else {
        None
    };

    let mut stream = stream;
    match answer {
        Some((r, request)) if anthropic => respond_anthropic(&mut stream, r, &request, Vec::new()),
        Some((r, request)) => {
            let model = request.get("model").cloned().unwrap_or(json!("fake-model"));
            respond(&mut stream, r, &model, Vec::new())
        }
        None if method == "GET" && path.ends_with("/models") => {
            let body = json!({"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": 0, "owned_by": "tend-tests"}
            ]});
            write_response(&mut stream, 200, &body.to_string(), &[])
        }
        None => write_response(
            &mut stream,
            404,
            &json!({"error": {"message": "not found", "type": "invalid_request_error"}})
                .to_string(),
            &[],
        ),
    }
}

fn respond(
    stream: &mut TcpStream,
    reply: Reply,
    model: &Value,
    mut headers: Vec<(String, String)>,
) -> std::io::Result<()> {
    match reply {
        Reply::Content(content) => {
            let body = json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop"
                }],
                "usage": {"prompt_tokens": USAGE.0, "completion_tokens": USAGE.1,
                          "total_tokens": USAGE.0 + USAGE.1}
            });
            write_response(stream, 200, &body.to_string(), &headers)
        }
        Reply::Status(status, body) => write_response(stream, status, &body, &headers),
        Reply::Delay(wait, inner) => {
            std::thread::sleep(wait);
            respond(stream, *inner, model, headers)
        }
        Reply::Headers(extra, inner) => {
            headers.extend(extra);
            respond(stream, *inner, model, headers)
        }
    }
}

/// [`respond`] in the Messages API's shape: the forced tool's `tool_use` block, or text.
fn respond_anthropic(
    stream: &mut TcpStream,
    reply: Reply,
    request: &Value,
    mut headers: Vec<(String, String)>,
) -> std::io::Result<()> {
    match reply {
        Reply::Content(content) => {
            let tool = request["tool_choice"]["name"].as_str();
            let block = match (tool, serde_json::from_str::<Value>(&content)) {
                (Some(name), Ok(input @ Value::Object(_))) => json!({
                    "type": "tool_use", "id": "toolu_fake", "name": name, "input": input
                }),
                _ => json!({"type": "text", "text": content}),
            };
            let stop = if block["type"] == "tool_use" {
                "tool_use"
            } else {
                "end_turn"
            };
            let body = json!({
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": request.get("model").cloned().unwrap_or(json!("fake-model")),
                "content": [block],
                "stop_reason": stop,
                "stop_sequence": null,
                "usage": {"input_tokens": USAGE.0, "output_tokens": USAGE.1}
            });
            write_response(stream, 200, &body.to_string(), &headers)
        }
        Reply::Status(status, body) => write_response(stream, status, &body, &headers),
        Reply::Delay(wait, inner) => {
            std::thread::sleep(wait);
            respond_anthropic(stream, *inner, request, headers)
        }
        Reply::Headers(extra, inner) => {
            headers.extend(extra);
            respond_anthropic(stream, *inner, request, headers)
        }
    }
}

fn write_response(
    stream: &mut TcpStream,
    status: u16,
    body: &str,
    headers: &[(String, String)],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    // One write: a body sent in a second small write waits, under Nagle's algorithm, for the
    // client's delayed ACK of the head (40 ms a request on Linux).
    head.push_str(body);
    stream.write_all(head.as_bytes())?;
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size_hex = size_line.trim().split(';').next().unwrap_or("0");
        let size = usize::from_str_radix(size_hex, 16).unwrap_or(0);
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = String::new();
        reader.read_line(&mut crlf)?;
    }
}
