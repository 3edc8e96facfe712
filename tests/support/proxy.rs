//! A TCP proxy on 127.0.0.1:0 in front of a plaintext IMAP server on 127.0.0.1 (Dovecot, in the
//! tests) that injects faults on the wire:
//! - `black_hole`: the connections open at that moment stay open, with no FIN and no RST, but no
//!   byte crosses them any more, as when a NAT box drops a connection's state. Only a timeout can
//!   detect that; closing the server (`Dovecot::kill`) cannot produce it.
//! - `inject`: for the next N commands whose text holds every given needle (`"UID FETCH"`,
//!   `"RFC822.SIZE"`), turn the tagged OK into NO or BAD, drop the untagged FETCH response for a
//!   UID, delay the command, or cut the connection before it reaches the server.
//!
//! It reads IMAP framing, not just bytes: a line, and after a `{n}` (or `{n+}`, `~{n}`) at its
//! end n bytes of literal and the rest of the line; so a message body that contains `A1 OK` is
//! never taken for a completion. Plaintext only (no STARTTLS, no implicit TLS).
//!
//! std threads like the other support servers: one accepting, two per connection (one per
//! direction). Dropping the proxy stops accepting and closes every connection, black-holed ones
//! included.

use super::framing::{literal, uid_in, Framer};
use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What to do to a matching command.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Its tagged OK becomes this status (`"NO"` or `"BAD"`), with a text saying who did it.
    Refuse(&'static str),
    /// Its answer loses the untagged FETCH response carrying this UID.
    DropFetch(u32),
    /// It reaches the server only after this long.
    Delay(Duration),
    /// The connection is closed, both ways, before it reaches the server.
    Cut,
}

/// How often an injected fault took effect (a refusal written, a response dropped, ...).
#[derive(Clone, Default)]
pub struct Fired(Arc<AtomicUsize>);

impl Fired {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The running proxy; stops on drop.
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    target_port: u16,
    stop: AtomicBool,
    accepted: AtomicUsize,
    /// Connections not yet finished, black-holed ones included (they never finish).
    conns: Mutex<Vec<Arc<Conn>>>,
    faults: Mutex<Vec<Armed>>,
}

/// A fault waiting for its commands.
struct Armed {
    /// Upper-cased; all must be in the command's text.
    needles: Vec<String>,
    fault: Fault,
    left: usize,
    fired: Fired,
}

/// One proxied connection: the client's socket and ours to the target.
struct Conn {
    client: TcpStream,
    upstream: TcpStream,
    /// Set by `black_hole`: the pumps forward nothing more and leave both sockets as they are.
    holed: AtomicBool,
    /// Directions that ended normally (EOF or error); at 2 the connection is forgotten.
    finished: AtomicUsize,
    /// Faults on the answers to commands in flight, by tag.
    pending: Mutex<HashMap<String, Vec<(Fault, Fired)>>>,
}

impl Conn {
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.upstream.shutdown(Shutdown::Both);
    }
}

impl Proxy {
    /// Listen on 127.0.0.1:0 and forward every connection to 127.0.0.1:`target_port`. A
    /// connection the target refuses is closed at once (still counted by `accepted`).
    pub fn start(target_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            target_port,
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            conns: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("proxy-{port}-accept"))
                .spawn(move || accept_loop(listener, &shared))
                .expect("spawn proxy thread")
        };
        Proxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The port to give the client instead of the target's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every connection the proxy has accepted and not yet seen end stops forwarding in both
    /// directions but stays open: no FIN, no RST, writes to it still succeed, reads from it wait
    /// forever. Bytes already read by the proxy at this instant may still be delivered; nothing
    /// read after it is. Connections accepted later are forwarded normally. Returns how many
    /// connections it black-holed.
    pub fn black_hole(&self) -> usize {
        let conns = self.shared.conns.lock().unwrap();
        let mut holed = 0;
        for c in conns.iter() {
            if !c.holed.swap(true, Ordering::SeqCst) {
                holed += 1;
            }
        }
        holed
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Applies `fault` to the next `times` commands, on any connection, whose text (after the
    /// tag) holds every one of `needles`, case-insensitively.
    pub fn inject(&self, needles: &[&str], fault: Fault, times: usize) -> Fired {
        let fired = Fired::default();
        self.shared.faults.lock().unwrap().push(Armed {
            needles: needles.iter().map(|n| n.to_ascii_uppercase()).collect(),
            fault,
            left: times,
            fired: fired.clone(),
        });
        fired
    }

    /// Forgets every fault not yet used up.
    pub fn heal(&self) {
        self.shared.faults.lock().unwrap().clear();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag, and wait for it to drop the listener: after
        // drop returns, connecting to the port is refused.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for c in self.shared.conns.lock().unwrap().drain(..) {
            c.close();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(client) = client else { continue };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let Ok(upstream) = TcpStream::connect(("127.0.0.1", shared.target_port)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        // Latency matters to the tests that time through the proxy.
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let (Ok(client_r), Ok(upstream_r)) = (client.try_clone(), upstream.try_clone()) else {
            continue;
        };
        let conn = Arc::new(Conn {
            client,
            upstream,
            holed: AtomicBool::new(false),
            finished: AtomicUsize::new(0),
            pending: Mutex::new(HashMap::new()),
        });
        {
            let mut conns = shared.conns.lock().unwrap();
            // Forget connections whose both directions ended.
            conns.retain(|c| c.finished.load(Ordering::SeqCst) < 2);
            conns.push(Arc::clone(&conn));
        }
        let n = shared.accepted.load(Ordering::SeqCst);
        for (src, to_client) in [(client_r, false), (upstream_r, true)] {
            let (pumped, shared) = (Arc::clone(&conn), Arc::clone(shared));
            let name = format!(
                "proxy-{}-{n}-{}",
                shared.target_port,
                ["up", "down"][to_client as usize]
            );
            let spawned = std::thread::Builder::new().name(name).spawn(move || {
                let mut framer = Framer::new(src, &pumped.holed);
                let ended = if to_client {
                    down(&mut framer, &pumped)
                } else {
                    up(&mut framer, &pumped, &shared)
                };
                match ended {
                    // Pass the half-close on; the other direction may still carry data.
                    Ok(()) => {
                        let dst = if to_client {
                            &pumped.client
                        } else {
                            &pumped.upstream
                        };
                        let _ = dst.shutdown(Shutdown::Write);
                    }
                    // Once black-holed, leave both sockets as they are until the proxy drops.
                    Err(_) if pumped.holed.load(Ordering::SeqCst) => return,
                    Err(_) => pumped.close(),
                }
                pumped.finished.fetch_add(1, Ordering::SeqCst);
            });
            if spawned.is_err() {
                conn.close();
            }
        }
    }
}

/// Client to server: commands are matched against the armed faults, then forwarded piece by
/// piece (a synchronizing literal's bytes come only after the server's `+`).
fn up(framer: &mut Framer, conn: &Conn, shared: &Shared) -> io::Result<()> {
    let mut dst = &conn.upstream;
    let mut first = true;
    while let Some(line) = framer.line()? {
        if first {
            let text = String::from_utf8_lossy(&line).to_ascii_uppercase();
            let (tag, command) = text.trim_end().split_once(' ').unwrap_or((&text, ""));
            for (fault, fired) in matching(shared, command) {
                match fault {
                    Fault::Cut => {
                        fired.0.fetch_add(1, Ordering::SeqCst);
                        conn.close();
                        return Err(io::Error::other("cut by a fault"));
                    }
                    Fault::Delay(by) => {
                        fired.0.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(by);
                    }
                    answer => {
                        let mut pending = conn.pending.lock().unwrap();
                        pending
                            .entry(tag.to_string())
                            .or_default()
                            .push((answer, fired));
                    }
                }
            }
        }
        dst.write_all(&line)?;
        let mut left = literal(&line).unwrap_or(0);
        first = left == 0 && line.ends_with(b"\r\n");
        while left > 0 {
            let piece = framer.some(left)?;
            if piece.is_empty() {
                return Ok(());
            }
            dst.write_all(&piece)?;
            left -= piece.len();
        }
    }
    Ok(())
}

/// The faults for a command with this (upper-cased) text, each used up once.
fn matching(shared: &Shared, command: &str) -> Vec<(Fault, Fired)> {
    let mut faults = shared.faults.lock().unwrap();
    let mut out = Vec::new();
    for armed in faults.iter_mut() {
        if armed.left > 0 && armed.needles.iter().all(|n| command.contains(n.as_str())) {
            armed.left -= 1;
            out.push((armed.fault.clone(), armed.fired.clone()));
        }
    }
    out
}

/// Server to client: whole responses (line, literal, rest of line, ...), each forwarded,
/// dropped or rewritten by the faults pending on the command in flight.
fn down(framer: &mut Framer, conn: &Conn) -> io::Result<()> {
    let mut dst = &conn.client;
    loop {
        let Some(mut unit) = framer.line()? else {
            return Ok(());
        };
        // The response's own text, literals left out, to look for the UID in.
        let mut plain = unit.clone();
        let mut text = unit.clone();
        while let Some(n) = literal(&text) {
            let mut data = Vec::with_capacity(n);
            while data.len() < n {
                let piece = framer.some(n - data.len())?;
                if piece.is_empty() {
                    break;
                }
                data.extend_from_slice(&piece);
            }
            unit.extend_from_slice(&data);
            let Some(rest) = framer.line()? else { break };
            unit.extend_from_slice(&rest);
            plain.extend_from_slice(&rest);
            text = rest;
        }
        let head = String::from_utf8_lossy(&unit[..unit.len().min(200)]).to_ascii_uppercase();
        let mut words = head.split(' ');
        let (tag, second) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let third = words.next().unwrap_or("");
        let mut pending = conn.pending.lock().unwrap();
        if tag == "*" && third.starts_with("FETCH") {
            if let Some(uid) = uid_in(&String::from_utf8_lossy(&plain)) {
                let dropped = pending
                    .values()
                    .flatten()
                    .find_map(|(f, fired)| (*f == Fault::DropFetch(uid)).then_some(fired));
                if let Some(fired) = dropped {
                    fired.0.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
            }
        } else if tag != "*" && tag != "+" {
            if let Some(faults) = pending.remove(tag) {
                let refusal = faults.iter().find_map(|(f, fired)| match f {
                    Fault::Refuse(status) if second == "OK" => Some((status, fired)),
                    _ => None,
                });
                if let Some((status, fired)) = refusal {
                    fired.0.fetch_add(1, Ordering::SeqCst);
                    let tag = String::from_utf8_lossy(&unit[..tag.len()]).into_owned();
                    let code = if *status == "NO" {
                        "[UNAVAILABLE] "
                    } else {
                        ""
                    };
                    unit = format!("{tag} {status} {code}injected by the test proxy\r\n").into();
                }
            }
        }
        drop(pending);
        dst.write_all(&unit)?;
    }
}
