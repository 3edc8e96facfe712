//! The black-holing TCP proxy of `tests/support/proxy.rs`, in front of a real Dovecot: bytes
//! flow both ways, `black_hole` silences the connections open at that moment without closing
//! them while new ones work, `accepted` counts, and dropping the proxy closes everything.

mod support;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::dovecot::Dovecot;
use support::proxy::Proxy;

/// How long a read must stay unanswered to count as silence: Dovecot answers NOOP in well
/// under a millisecond on loopback.
const SILENCE: Duration = Duration::from_millis(1500);

/// A raw connection through the proxy that has read the IMAP greeting.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut greeting = String::new();
        reader.read_line(&mut greeting).expect("read the greeting");
        assert!(greeting.starts_with("* OK"), "greeting: {greeting:?}");
        Client { stream, reader }
    }

    fn send(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("write through the proxy");
    }

    /// Send a tagged command and read up to its tagged OK.
    fn command(&mut self, tag: &str, command: &str) -> String {
        self.send(&format!("{tag} {command}"));
        self.answer(tag)
    }

    /// Read up to the tagged OK for `tag`; returns everything read.
    fn answer(&mut self, tag: &str) -> String {
        let mut out = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("read an answer");
            assert!(n > 0, "closed before the tagged answer: {out:?}");
            out.push_str(&line);
            if let Some(status) = line.strip_prefix(&format!("{tag} ")) {
                assert!(status.starts_with("OK"), "{tag}: {out:?}");
                return out;
            }
        }
    }

    /// Assert that nothing at all arrives for `SILENCE`: the read times out, rather than
    /// returning data, EOF (a FIN) or a reset.
    fn assert_silent(&mut self, what: &str) {
        self.stream.set_read_timeout(Some(SILENCE)).unwrap();
        let mut buf = [0u8; 256];
        let started = Instant::now();
        match self.reader.read(&mut buf) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                assert!(started.elapsed() >= SILENCE - Duration::from_millis(100));
            }
            Ok(0) => panic!("{what}: the connection was closed (FIN)"),
            Ok(n) => panic!(
                "{what}: {n} bytes arrived: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) => panic!("{what}: read failed instead of timing out: {e}"),
        }
    }
}

#[test]
fn bytes_flow_both_ways() {
    let dovecot = Dovecot::start();
    dovecot.add_user("alice", "pw");
    let proxy = Proxy::start(dovecot.port());
    assert_ne!(proxy.port(), dovecot.port());
    assert_eq!(proxy.accepted(), 0);

    let mut c = Client::connect(proxy.port());
    let caps = c.command("a1", "CAPABILITY");
    assert!(caps.contains("IMAP4rev1"), "{caps:?}");
    c.command("a2", "LOGIN alice pw");
    let select = c.command("a3", "SELECT INBOX");
    assert!(select.contains("EXISTS"), "{select:?}");
    // A message larger than one read of the pump, up with APPEND and back down with FETCH:
    // every byte arrives, in order.
    let body: String = (0..4000).map(|i| format!("line {i:05}\r\n")).collect();
    let msg = format!("From: a@b.test\r\nSubject: big\r\n\r\n{body}");
    c.send(&format!("a4 APPEND INBOX {{{}}}", msg.len()));
    let mut cont = String::new();
    c.reader.read_line(&mut cont).unwrap();
    assert!(cont.starts_with('+'), "{cont:?}");
    c.send(&msg);
    c.answer("a4");
    c.command("a5", "NOOP");
    let fetched = c.command("a6", "FETCH 1 BODY[]");
    assert!(
        fetched.contains(&msg),
        "FETCH did not return the APPENDed message intact"
    );
    c.command("a7", "LOGOUT");
    assert_eq!(proxy.accepted(), 1);
}

#[test]
fn black_hole_silences_open_connections_and_spares_new_ones() {
    let dovecot = Dovecot::start();
    dovecot.add_user("alice", "pw");
    let proxy = Proxy::start(dovecot.port());

    let mut a = Client::connect(proxy.port());
    a.command("a1", "LOGIN alice pw");
    a.command("a2", "SELECT INBOX");
    let mut b = Client::connect(proxy.port());
    b.command("b1", "NOOP");
    assert_eq!(proxy.accepted(), 2);

    assert_eq!(proxy.black_hole(), 2);
    // Writes still succeed (no RST), but no answer comes back and the connection stays open.
    a.send("a3 NOOP");
    a.assert_silent("black-holed connection after NOOP");
    a.send("a4 LOGOUT");
    a.assert_silent("black-holed connection after LOGOUT");
    b.assert_silent("idle black-holed connection");

    // The upstream side is silenced too: the LOGOUT never reached Dovecot, so its session
    // for `a` is still open (a new login proves Dovecot itself is fine).
    let mut c = Client::connect(proxy.port());
    c.command("c1", "LOGIN alice pw");
    c.command("c2", "SELECT INBOX");
    c.command("c3", "NOOP");
    assert_eq!(proxy.accepted(), 3);
    assert!(
        !dovecot.log().contains("Logged out"),
        "a LOGOUT got through: {}",
        dovecot.log()
    );

    // A second black hole takes only the connections that were still forwarding.
    assert_eq!(proxy.black_hole(), 1);
    c.send("c4 NOOP");
    c.assert_silent("connection black-holed by the second call");
    let mut d = Client::connect(proxy.port());
    d.command("d1", "NOOP");
    assert_eq!(proxy.accepted(), 4);
}

#[test]
fn drop_closes_connections_and_the_port() {
    let dovecot = Dovecot::start();
    let proxy = Proxy::start(dovecot.port());
    let port = proxy.port();
    let mut holed = Client::connect(port);
    assert_eq!(proxy.black_hole(), 1);
    let mut live = Client::connect(port);
    drop(proxy);

    for (what, c) in [("forwarding", &mut live), ("black-holed", &mut holed)] {
        let mut buf = [0u8; 64];
        match c.reader.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("{what} connection still open after drop: {other:?}"),
        }
    }
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the proxy still accepts after drop"
    );
}
