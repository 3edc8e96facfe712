//! Smoke tests of the test harness itself, without any of tend's code: a real Dovecot reached
//! with a hand-written IMAP exchange, and the fake model server reached with raw HTTP.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use support::dovecot::Dovecot;
use support::llm::{FakeLlm, Reply};

/// A tiny IMAP client: sends a tagged command, returns every line up to the tagged answer.
struct Imap {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
    tag: u32,
}

impl Imap {
    fn connect(port: u16) -> Imap {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut greeting = String::new();
        reader.read_line(&mut greeting).unwrap();
        assert!(greeting.starts_with("* OK"), "greeting: {greeting:?}");
        Imap {
            reader,
            stream,
            tag: 0,
        }
    }

    fn run(&mut self, command: &str) -> String {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(self.stream, "{tag} {command}\r\n").unwrap();
        let mut out = String::new();
        loop {
            let mut line = String::new();
            assert!(
                self.reader.read_line(&mut line).unwrap() > 0,
                "closed: {out}"
            );
            out.push_str(&line);
            if let Some(status) = line.strip_prefix(&format!("{tag} ")) {
                assert!(status.starts_with("OK"), "{command} failed: {out}");
                return out;
            }
        }
    }
}

fn message(id: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Buyer <buyer@example.com>\r\nTo: alice@example.org\r\n\
         Subject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Mon, 2 Jun 2025 10:00:00 +0000\r\n\
         \r\nHello.\r\n"
    )
    .into_bytes()
}

#[test]
fn dovecot_serves_what_was_put_on_disk() {
    let mut dovecot = Dovecot::start();
    dovecot.add_user("alice", "secret");
    let first = message("one@example.com", "first");
    let second = message("two@example.com", "second");
    // The first in cur/ (seen), the second in new/: UIDs still follow the order of putting.
    dovecot.put("alice", "INBOX", &first, "S");
    dovecot.put("alice", "INBOX", &second, "");
    let draft = dovecot.put("alice", "Drafts", &message("d@example.org", "Re: x"), "SD");
    assert!(draft.to_string_lossy().ends_with(":2,DS"), "{draft:?}");

    let stored = dovecot.messages("alice", "INBOX");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].raw, first);
    assert_eq!(stored[0].flags, "S");
    assert_eq!(stored[1].raw, second);
    assert_eq!(stored[1].flags, "");

    let mut imap = Imap::connect(dovecot.port());
    assert!(imap.run("CAPABILITY").contains("STARTTLS"));
    imap.run("LOGIN alice secret");
    let list = imap.run("LIST \"\" \"*\"");
    for (attr, name) in [("\\Drafts", "Drafts"), ("\\Sent", "Sent")] {
        assert!(
            list.lines().any(|l| l.contains(attr) && l.ends_with(name)),
            "{attr} {name} missing in:\n{list}"
        );
    }
    imap.run("SELECT INBOX");
    assert!(imap.run("UID SEARCH ALL").contains("* SEARCH 1 2\r\n"));
    let fetched = imap.run("UID FETCH 2 (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
    assert!(fetched.contains("<two@example.com>"), "{fetched}");
    imap.run("SELECT Drafts");
    assert!(imap.run("UID SEARCH DRAFT").contains("* SEARCH 1\r\n"));

    // Dovecot has now seen the files: UIDs read back from disk, flags unchanged.
    let stored = dovecot.messages("alice", "INBOX");
    assert_eq!(
        stored.iter().map(|s| s.uid).collect::<Vec<_>>(),
        [Some(1), Some(2)]
    );

    // A message put while a session is open shows up on the next command.
    imap.run("SELECT INBOX");
    dovecot.put("alice", "INBOX", &message("three@example.com", "third"), "");
    imap.run("NOOP");
    assert!(imap.run("UID SEARCH ALL").contains("* SEARCH 1 2 3\r\n"));

    // A user deleting the draft.
    dovecot.remove(&dovecot.messages("alice", "Drafts")[0].path);
    assert!(dovecot.messages("alice", "Drafts").is_empty());
    imap.run("SELECT Drafts");
    assert!(imap.run("UID SEARCH ALL").contains("* SEARCH\r\n"));

    // Restart: same port, same data; the old session is cut.
    dovecot.restart();
    let mut buf = String::new();
    let _ = imap.reader.read_to_string(&mut buf);
    let mut imap = Imap::connect(dovecot.port());
    imap.run("LOGIN alice secret");
    imap.run("SELECT INBOX");
    assert!(imap.run("UID SEARCH ALL").contains("* SEARCH 1 2 3\r\n"));
}

#[tokio::test]
async fn dovecot_tls_port_trusts_ca_file() {
    use tokio::io::AsyncReadExt;
    use tokio_rustls::rustls;

    let dovecot = Dovecot::start();
    let pem = std::fs::read(dovecot.ca_file()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    for name in ["localhost", "127.0.0.1"] {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", dovecot.tls_port()))
            .await
            .unwrap();
        let server_name = rustls::pki_types::ServerName::try_from(name).unwrap();
        let mut tls = connector.connect(server_name, tcp).await.unwrap();
        let mut greeting = [0u8; 4];
        tls.read_exact(&mut greeting).await.unwrap();
        assert_eq!(&greeting, b"* OK");
    }
}

fn http_post(url_port: u16, path: &str, body: &str) -> (String, serde_json::Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", url_port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.lines().next().unwrap().to_string();
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn fake_llm_speaks_chat_completions() {
    let llm = FakeLlm::start(|req| {
        if req["model"] == "busy" {
            Reply::Headers(
                vec![("Retry-After".into(), "1".into())],
                Box::new(Reply::Status(
                    429,
                    r#"{"error":{"message":"slow down"}}"#.into(),
                )),
            )
        } else {
            Reply::Delay(
                Duration::from_millis(10),
                Box::new(Reply::Content("Hi there".into())),
            )
        }
    });
    let url = llm.base_url();
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix("/v1"))
        .unwrap()
        .parse()
        .unwrap();

    let request = r#"{"model":"m1","messages":[{"role":"user","content":"hello"}]}"#;
    let (status, json) = http_post(port, "/v1/chat/completions", request);
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(json["object"], "chat.completion");
    assert_eq!(json["choices"][0]["message"]["role"], "assistant");
    assert_eq!(json["choices"][0]["message"]["content"], "Hi there");

    let (status, json) = http_post(port, "/v1/chat/completions", r#"{"model":"busy"}"#);
    assert!(status.starts_with("HTTP/1.1 429"), "{status}");
    assert_eq!(json["error"]["message"], "slow down");

    let requests = llm.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["messages"][0]["content"], "hello");
}
