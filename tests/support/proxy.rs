//! A TCP proxy on 127.0.0.1:0 in front of a server on 127.0.0.1 (Dovecot, in the tests), able to
//! black-hole the connections open at a given moment: they stay open, with no FIN and no RST,
//! but no byte crosses them any more in either direction, as when a NAT box or a Wi-Fi hop drops
//! a connection's state. Connections made afterwards are forwarded normally. That is the failure
//! only a timeout can detect, which closing the server (`Dovecot::kill`) cannot produce.
//!
//! std threads like the other support servers: one accepting, two per connection (one per
//! direction). Dropping the proxy stops accepting and closes every connection, black-holed ones
//! included.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

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
}

/// One proxied connection: the client's socket and ours to the target.
struct Conn {
    client: TcpStream,
    upstream: TcpStream,
    /// Set by `black_hole`: the pumps forward nothing more and leave both sockets as they are.
    holed: AtomicBool,
    /// Directions that ended normally (EOF or error); at 2 the connection is forgotten.
    finished: AtomicUsize,
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

    /// Every connection the proxy has accepted and not yet seen end stops forwarding in both directions but stays open: no FIN,
    /// no RST, writes to it still succeed, reads from it wait forever. Bytes already read by
    /// the proxy at this instant may still be delivered; nothing read after it is. Connections
    /// accepted later are forwarded normally. Returns how many connections it black-holed.
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
            let _ = c.client.shutdown(Shutdown::Both);
            let _ = c.upstream.shutdown(Shutdown::Both);
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
        });
        {
            let mut conns = shared.conns.lock().unwrap();
            // Forget connections whose both directions ended.
            conns.retain(|c| c.finished.load(Ordering::SeqCst) < 2);
            conns.push(Arc::clone(&conn));
        }
        let n = shared.accepted.load(Ordering::SeqCst);
        for (src, to_client) in [(client_r, false), (upstream_r, true)] {
            let pumped = Arc::clone(&conn);
            let name = format!(
                "proxy-{}-{n}-{}",
                shared.target_port,
                ["up", "down"][to_client as usize]
            );
            let spawned = std::thread::Builder::new()
                .name(name)
                .spawn(move || pump(src, &pumped, to_client));
            if spawned.is_err() {
                let _ = conn.client.shutdown(Shutdown::Both);
                let _ = conn.upstream.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Copy one direction until EOF or an error. Once the connection is black-holed, return without
/// writing or closing anything: the sockets stay open in `Shared::conns` until the proxy drops.
fn pump(mut src: TcpStream, conn: &Conn, to_client: bool) {
    let mut dst = if to_client {
        &conn.client
    } else {
        &conn.upstream
    };
    let mut buf = [0u8; 16 * 1024];
    loop {
        let read = src.read(&mut buf);
        if conn.holed.load(Ordering::SeqCst) {
            return;
        }
        match read {
            Ok(0) => {
                // Pass the half-close on; the other direction may still carry data.
                let _ = dst.shutdown(Shutdown::Write);
                break;
            }
            Ok(n) => {
                if dst.write_all(&buf[..n]).is_err() {
                    let _ = conn.client.shutdown(Shutdown::Both);
                    let _ = conn.upstream.shutdown(Shutdown::Both);
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                let _ = conn.client.shutdown(Shutdown::Both);
                let _ = conn.upstream.shutdown(Shutdown::Both);
                break;
            }
        }
    }
    conn.finished.fetch_add(1, Ordering::SeqCst);
}
