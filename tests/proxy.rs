//! The fault-injecting proxy of `tests/support/proxy.rs`, in front of a real Dovecot: bytes
//! flow both ways, `black_hole` silences the connections open at that moment without closing
//! them while new ones work, `accepted` counts, dropping the proxy closes everything, and
//! `inject` refuses, drops, delays or cuts exactly the commands it was told to.

mod support;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::dovecot::Dovecot;
use support::proxy::{Fault, Proxy};

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
        let (status, out) = self.completion(tag);
        assert!(status.starts_with("OK"), "{tag}: {out:?}");
        out
    }

    /// Read up to the tagged completion for `tag`, whatever its status: (its status line
    /// after the tag, everything read). Literals here hold no line starting with `tag`.
    fn completion(&mut self, tag: &str) -> (String, String) {
        let mut out = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("read an answer");
            assert!(n > 0, "closed before the tagged answer: {out:?}");
            out.push_str(&line);
            if let Some(status) = line.strip_prefix(&format!("{tag} ")) {
                return (status.to_string(), out);
            }
        }
    }

    /// APPEND `msg` to INBOX with a synchronizing literal.
    fn append(&mut self, tag: &str, msg: &str) {
        self.send(&format!("{tag} APPEND INBOX {{{}}}", msg.len()));
        let mut cont = String::new();
        self.reader.read_line(&mut cont).unwrap();
        assert!(cont.starts_with('+'), "{cont:?}");
        self.send(msg);
        self.answer(tag);
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
    c.append("a4", &msg);
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

/// A logged-in client on INBOX holding three messages; the first one's body looks like IMAP
/// responses (a FETCH for UID 2, a completion), which only a proxy that skips literals
/// forwards untouched.
fn three_messages(proxy: &Proxy) -> (Client, String) {
    let mut c = Client::connect(proxy.port());
    c.command("a1", "LOGIN alice pw");
    let tricky =
        "From: a@b.test\r\nSubject: one\r\n\r\n* 2 FETCH (UID 2 FLAGS ())\r\nz9 OK done\r\n";
    c.append("a2", tricky);
    c.append("a3", "From: a@b.test\r\nSubject: two\r\n\r\nTwo.\r\n");
    c.append("a4", "From: a@b.test\r\nSubject: three\r\n\r\nThree.\r\n");
    c.command("a5", "SELECT INBOX");
    (c, tricky.to_string())
}

#[test]
fn a_refusal_rewrites_the_tagged_ok_of_matching_commands_only_n_times() {
    let dovecot = Dovecot::start();
    dovecot.add_user("alice", "pw");
    let proxy = Proxy::start(dovecot.port());
    let (mut c, _) = three_messages(&proxy);
    let no = proxy.inject(&["uid search", "all"], Fault::Refuse("NO"), 2);
    let bad = proxy.inject(&["UID FETCH", "RFC822.SIZE"], Fault::Refuse("BAD"), 1);

    // Not matching: untouched.
    c.command("b1", "NOOP");
    c.command("b2", "UID SEARCH SUBJECT two");
    for tag in ["b3", "b4"] {
        c.send(&format!("{tag} UID SEARCH ALL"));
        let (status, out) = c.completion(tag);
        assert!(status.starts_with("NO [UNAVAILABLE]"), "{out:?}");
        assert!(
            out.contains("* SEARCH 1 2 3\r\n"),
            "the data still comes: {out:?}"
        );
    }
    c.command("b5", "UID SEARCH ALL");
    assert_eq!(no.count(), 2);

    c.send("b6 UID FETCH 1:* (UID RFC822.SIZE)");
    let (status, out) = c.completion("b6");
    assert!(status.starts_with("BAD"), "{out:?}");
    assert_eq!(out.matches(" FETCH (").count(), 3, "{out:?}");
    c.command("b7", "UID FETCH 1:* (UID RFC822.SIZE)");
    assert_eq!(bad.count(), 1);
}

#[test]
fn a_dropped_fetch_leaves_the_others_and_their_literals_intact() {
    let dovecot = Dovecot::start();
    dovecot.add_user("alice", "pw");
    let proxy = Proxy::start(dovecot.port());
    let (mut c, tricky) = three_messages(&proxy);
    let dropped = proxy.inject(&["UID FETCH", "BODY"], Fault::DropFetch(2), 1);
    let refused = proxy.inject(&["UID FETCH", "BODY"], Fault::Refuse("NO"), 1);

    c.send("b1 UID FETCH 1:3 (UID BODY.PEEK[])");
    let (status, out) = c.completion("b1");
    assert!(status.starts_with("NO"), "{out:?}");
    assert!(out.contains(&tricky), "message 1 arrives whole: {out:?}");
    assert!(out.contains("Three."), "{out:?}");
    assert!(
        !out.contains("Two."),
        "message 2's FETCH is dropped: {out:?}"
    );
    assert_eq!((dropped.count(), refused.count()), (1, 1));

    // Used up: the next answer is whole again.
    let out = c.command("b2", "UID FETCH 1:3 (UID BODY.PEEK[])");
    assert!(out.contains("Two.") && out.contains("Three."), "{out:?}");
    assert_eq!(dropped.count(), 1);
}

#[test]
fn delay_and_cut_act_at_the_chosen_command() {
    let dovecot = Dovecot::start();
    dovecot.add_user("alice", "pw");
    let proxy = Proxy::start(dovecot.port());
    let delayed = proxy.inject(&["NOOP"], Fault::Delay(Duration::from_millis(1500)), 1);
    let cut = proxy.inject(&["SELECT"], Fault::Cut, 1);

    let mut c = Client::connect(proxy.port());
    c.command("a1", "LOGIN alice pw");
    let started = Instant::now();
    c.command("a2", "NOOP");
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert_eq!(delayed.count(), 1);
    c.command("a3", "EXAMINE INBOX");
    c.send("a4 SELECT INBOX");
    let mut buf = [0u8; 64];
    match c.reader.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("still open after the cut: {other:?}"),
    }
    assert_eq!(cut.count(), 1);

    // Used up: a new connection selects as usual.
    let mut d = Client::connect(proxy.port());
    d.command("d1", "LOGIN alice pw");
    d.command("d2", "SELECT INBOX");
}
