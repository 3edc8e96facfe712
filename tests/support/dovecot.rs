//! A throwaway real Dovecot 2.3 per test: its own temp dir, free loopback ports, plain (STARTTLS)
//! and implicit-TLS listeners, users in a plaintext passwd-file, Maildir++ mail on disk.
//! Tests put messages straight into the Maildir and read them back from disk, so what they check
//! does not depend on tend's IMAP code. The config is `dovecot.conf.tmpl`, shared with
//! `scripts/dovecot-up`. What it says over IMAP (`append`, `tag`) goes through `support::imap`.

use super::imap::Client;
use super::server::MailServer;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TEMPLATE: &str = include_str!("dovecot.conf.tmpl");
/// Folders the config declares as special-use; created on disk by `add_user`.
const SPECIAL_FOLDERS: [&str; 4] = ["Sent", "Drafts", "Trash", "Junk"];
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running Dovecot with its data; killed on drop.
pub struct Dovecot {
    dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
    tls_port: u16,
    /// Owner of the mail files when we run as root (the `dovecot` user); None otherwise.
    mail_owner: Option<(u32, u32)>,
}

/// A message file as it sits in the Maildir.
#[derive(Debug, Clone)]
pub struct Stored {
    pub path: PathBuf,
    /// Maildir flag letters after `:2,`, e.g. "DS" (D draft, F flagged, R answered, S seen,
    /// T deleted); empty for a message in `new/`.
    pub flags: String,
    pub raw: Vec<u8>,
    /// The UID Dovecot gave it (from `dovecot-uidlist`), once Dovecot has seen the file.
    pub uid: Option<u32>,
}

impl Dovecot {
    /// Start a fresh server on free loopback ports; waits until it answers IMAP logins.
    /// Panics with the contents of dovecot.log when it does not come up.
    pub fn start() -> Dovecot {
        on_free_ports("dovecot", |port, tls_port| {
            let mut d = Dovecot::prepare(port, tls_port);
            match d.spawn_and_wait() {
                Ok(()) => Ok(d),
                Err(why) => Err(format!("{why}\n--- dovecot.log ---\n{}", d.log())),
            }
        })
    }

    /// Plain IMAP port on 127.0.0.1 (offers STARTTLS).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Implicit-TLS (imaps) port on 127.0.0.1.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// The self-signed certificate (CN/SAN localhost, IP 127.0.0.1), usable as tend's `ca_file`.
    pub fn ca_file(&self) -> PathBuf {
        self.base().join("cert.pem")
    }

    /// The temp dir holding config, logs, users and mail.
    pub fn base(&self) -> &Path {
        self.dir.path()
    }

    /// The server log so far (for assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.base().join("dovecot.log")).unwrap_or_default()
    }

    /// Add a login (plaintext password), and create its INBOX and special-use folders on disk so `put` works before
    /// anyone logged in.
    pub fn add_user(&self, user: &str, password: &str) {
        assert!(
            !user.is_empty() && !user.contains([':', '/', '\n']) && !password.contains(['\n', ':']),
            "user/password must not contain ':', '/' or newlines"
        );
        // One passwd-file per user (users.d/USER, the config's first passdb) rather than a line
        // in `users`: Dovecot re-checks a passwd-file at most once a second, so a user appended
        // right after a login would stay unknown for up to a second.
        let file = self.base().join("users.d").join(user);
        fs::write(&file, format!("{user}:{{PLAIN}}{password}\n")).expect("write users.d file");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod users.d file");

        let root = self.mail_root(user);
        self.make_dir(&root);
        for sub in ["cur", "new", "tmp"] {
            self.make_dir(&root.join(sub));
        }
        for folder in SPECIAL_FOLDERS {
            let dir = self.folder_dir(user, folder);
            self.make_dir(&dir);
            for sub in ["cur", "new", "tmp"] {
                self.make_dir(&dir.join(sub));
            }
            let marker = dir.join("maildirfolder");
            fs::write(&marker, b"").expect("write maildirfolder");
            self.own(&marker);
        }
    }

    /// The password `add_user` gave `user`.
    pub fn password(&self, user: &str) -> String {
        let line = fs::read_to_string(self.base().join("users.d").join(user)).expect("a user");
        line.trim_end()
            .split_once("{PLAIN}")
            .map(|(_, p)| p.to_string())
            .expect("a {PLAIN} password")
    }

    /// Write a message straight into a folder ("INBOX", "Sent", "Drafts", ...). `flags` are
    /// Maildir letters, e.g. "S"; an empty string puts it in `new/` (unseen, \Recent), otherwise
    /// in `cur/`. Dovecot sees it on the next IMAP command; messages put later get higher UIDs.
    pub fn put(&self, user: &str, folder: &str, raw: &[u8], flags: &str) -> PathBuf {
        let dir = self.folder_dir(user, folder);
        assert!(
            dir.join("cur").is_dir(),
            "no folder {folder:?} for {user:?} at {} (add_user first?)",
            dir.display()
        );
        let name = unique_name(raw.len());
        let tmp = dir.join("tmp").join(&name);
        fs::write(&tmp, raw).expect("write message to tmp/");
        self.own(&tmp);
        let dest = if flags.is_empty() {
            dir.join("new").join(&name)
        } else {
            let mut letters: Vec<char> = flags.chars().collect();
            letters.sort_unstable();
            letters.dedup();
            let flags: String = letters.into_iter().collect();
            dir.join("cur").join(format!("{name}:2,{flags}"))
        };
        fs::rename(&tmp, &dest).expect("move message into new/ or cur/");
        dest
    }

    /// Every message file in a folder's `cur/` and `new/`, read from disk, in UID order
    /// (files Dovecot has not seen yet last, in the order they were put).
    pub fn messages(&self, user: &str, folder: &str) -> Vec<Stored> {
        let dir = self.folder_dir(user, folder);
        let uids = read_uidlist(&dir.join("dovecot-uidlist"));
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let entries = match fs::read_dir(dir.join(sub)) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("read {}: {e}", dir.join(sub).display()),
            };
            for entry in entries {
                let entry = entry.expect("read_dir entry");
                let file_name = entry.file_name().to_string_lossy().into_owned();
                if file_name.starts_with('.') {
                    continue;
                }
                let (base, flags) = match file_name.split_once(":2,") {
                    Some((b, f)) => (b.to_string(), f.to_string()),
                    None => (file_name.clone(), String::new()),
                };
                let path = entry.path();
                // Dovecot may rename (flags change, new/ -> cur/) between readdir and read.
                let Ok(raw) = fs::read(&path) else { continue };
                out.push(Stored {
                    uid: uids.get(&base).copied(),
                    path,
                    flags,
                    raw,
                });
            }
        }
        out.sort_by(|a, b| {
            let ka = (a.uid.unwrap_or(u32::MAX), time_key(&a.path));
            let kb = (b.uid.unwrap_or(u32::MAX), time_key(&b.path));
            ka.cmp(&kb)
        });
        out
    }

    /// APPEND a message over IMAP, as a mail server delivering it or another client saving it
    /// would; unlike `put`, Dovecot notifies sessions idling on the folder at once.
    pub fn append(&self, user: &str, password: &str, folder: &str, raw: &[u8]) {
        let mut c = Client::login(self.port, user, password);
        c.append(folder, "", None, raw);
        c.logout();
    }

    /// Sets (`op` "+FLAGS") or removes ("-FLAGS") a keyword on the message with that
    /// Message-ID over IMAP, as a mail client tagging it does (Thunderbird's tags are keywords).
    pub fn tag(&self, user: &str, folder: &str, message_id: &str, op: &str, keyword: &str) {
        MailServer::tag(self, user, folder, message_id, op, keyword);
    }

    /// Adds settings to the server's config (its `local.conf`); they apply from the next
    /// `restart`.
    pub fn configure(&self, settings: &str) {
        let path = self.base().join("local.conf");
        let mut text = fs::read_to_string(&path).unwrap_or_default();
        text.push_str(settings);
        text.push('\n');
        fs::write(&path, text).expect("write local.conf");
    }

    /// Makes `user` log in only with OAuth2 (XOAUTH2 or OAUTHBEARER): its access tokens are
    /// checked by Dovecot's `oauth2` passdb at `introspection_url` (RFC 7662, POST), and it has
    /// no password. Restarts the server.
    /// `mechanisms` is what the server offers besides PLAIN and LOGIN, e.g. "xoauth2".
    pub fn oauth2_user(&mut self, user: &str, introspection_url: &str, mechanisms: &str) {
        self.add_user(user, "no-password");
        fs::remove_file(self.base().join("users.d").join(user)).expect("remove users.d file");
        let ext = self.base().join("dovecot-oauth2.conf.ext");
        fs::write(
            &ext,
            format!(
                "introspection_url = {introspection_url}\nintrospection_mode = post\n\
                 username_attribute = username\nactive_attribute = active\nactive_value = true\n"
            ),
        )
        .expect("write dovecot-oauth2.conf.ext");
        fs::set_permissions(&ext, fs::Permissions::from_mode(0o644)).expect("chmod oauth2 conf");
        self.configure(&format!(
            "auth_mechanisms = plain login {mechanisms}\nauth_verbose = yes\npassdb {{\n  driver = oauth2\n  \
             mechanisms = {mechanisms}\n  args = {}\n}}",
            ext.display()
        ));
        self.restart();
    }

    /// Delete a message file, as a user deleting a draft in their client would.
    pub fn remove(&self, path: &Path) {
        fs::remove_file(path).unwrap_or_else(|e| panic!("remove {}: {e}", path.display()));
    }

    /// Stop the server at once, as a crash would: every process of this instance gets SIGKILL,
    /// so open IMAP sessions drop immediately. (A SIGTERM'd Dovecot 2.3 master exits after ~1 s
    /// but leaves its imap processes serving their sessions for 10 more seconds.)
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let master = child.id();
        // Freeze the master so it cannot spawn more, then kill it and all it started.
        signal("STOP", &[master]);
        let mut pids = vec![master];
        pids.extend(descendants(master));
        signal("KILL", &pids);
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Start the same server again: same ports, same users and mail.
    pub fn restart(&mut self) {
        self.kill();
        if let Err(why) = self.spawn_and_wait() {
            panic!(
                "dovecot did not restart: {why}\n--- dovecot.log ---\n{}",
                self.log()
            );
        }
    }

    fn prepare(port: u16, tls_port: u16) -> Dovecot {
        let dir = tempfile::Builder::new()
            .prefix("tend-dovecot-")
            .tempdir()
            .expect("create temp dir");
        let base = dir.path().to_path_buf();
        let base_str = base.to_str().expect("temp dir path is UTF-8");
        let as_root = fs::metadata(&base).expect("stat temp dir").uid() == 0;
        let mail_owner = as_root.then(|| {
            system_user("dovecot")
                .expect("no `dovecot` user in /etc/passwd: is dovecot-imapd installed?")
        });

        // Dovecot's processes (other uids when root) must reach everything below base.
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).expect("chmod base");
        let d = Dovecot {
            dir,
            child: None,
            port,
            tls_port,
            mail_owner,
        };
        for sub in ["mail", "home", "state", "run", "users.d"] {
            let p = base.join(sub);
            fs::create_dir(&p).expect("create dir under base");
            if sub != "run" && sub != "users.d" {
                d.own(&p);
            }
        }
        fs::write(base.join("users"), b"").expect("create users file");
        fs::set_permissions(base.join("users"), fs::Permissions::from_mode(0o644))
            .expect("chmod users");

        let local = if as_root {
            String::new()
        } else {
            let user = command_output("id", &["-un"]);
            let group = command_output("id", &["-gn"]);
            format!(
                "default_login_user = {user}\ndefault_internal_user = {user}\n\
                 default_internal_group = {group}\nmail_uid = {user}\nmail_gid = {group}\n"
            )
        };
        fs::write(base.join("local.conf"), local).expect("write local.conf");

        let conf = TEMPLATE
            .replace("@BASE@", base_str)
            .replace("@TLS_PORT@", &tls_port.to_string())
            .replace("@PORT@", &port.to_string());
        fs::write(base.join("dovecot.conf"), conf).expect("write dovecot.conf");
        make_cert(&base);
        d
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let base = self.base().to_path_buf();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(base.join("dovecot.log"))
            .map_err(|e| format!("open dovecot.log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(dovecot_binary())
            .arg("-F")
            .arg("-c")
            .arg(base.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("spawn dovecot (is dovecot-imapd installed?): {e}"))?;
        self.child = Some(child);
        let up = wait_for_login(&mut self.child, self.port, "dovecot", START_TIMEOUT);
        if up.is_err() {
            self.kill();
        }
        up
    }

    fn mail_root(&self, user: &str) -> PathBuf {
        self.base().join("mail").join(user)
    }

    /// Maildir++: INBOX is the root, other folders are `.Name` (hierarchy joined with '.').
    fn folder_dir(&self, user: &str, folder: &str) -> PathBuf {
        let root = self.mail_root(user);
        if folder.eq_ignore_ascii_case("INBOX") {
            root
        } else {
            root.join(format!(".{}", folder.replace('/', ".")))
        }
    }

    fn make_dir(&self, path: &Path) {
        match fs::create_dir(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("create {}: {e}", path.display()),
        }
        self.own(path);
    }

    /// When root, hand a file to the mail user: Dovecot refuses to work on root's mail.
    fn own(&self, path: &Path) {
        if let Some((uid, gid)) = self.mail_owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A server started by `start` on a fresh pair of free ports (plain, TLS). Ports are found by
/// binding :0 and releasing them, so another process may grab one before the server binds it:
/// a start that failed with "in use" is tried again on a new pair, twice at most; any other
/// failure panics with what `start` said.
pub(crate) fn on_free_ports<T>(
    name: &str,
    mut start: impl FnMut(u16, u16) -> Result<T, String>,
) -> T {
    let mut last = String::new();
    for _ in 0..3 {
        let (port, tls_port) = free_ports();
        match start(port, tls_port) {
            Ok(server) => return server,
            Err(why) => {
                last = why;
                if !last.contains("in use") {
                    break;
                }
            }
        }
    }
    panic!("{name} did not start: {last}");
}

/// Two distinct free loopback ports (bound together, then released).
pub(crate) fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind :0");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind :0");
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// Waits until the server just spawned as `child` answers a login on `port` (Dovecot and Cyrus
/// alike); an error when it exits first or is not up within `timeout`, `child` then None or
/// still running for the caller to kill.
pub(crate) fn wait_for_login(
    child: &mut Option<Child>,
    port: u16,
    name: &str,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(c) = child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                *child = None;
                return Err(format!("{name} exited during startup: {status}"));
            }
        }
        match probe_login(port) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(format!(
                    "no IMAP login on port {port} after {timeout:?}: {e}"
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
}

/// The greeting, then a LOGIN that must be answered (refused): proves login and auth are up.
pub(crate) fn probe_login(port: u16) -> Result<(), String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    if !line.starts_with("* OK") {
        return Err(format!("unexpected greeting {line:?}"));
    }
    (&stream)
        .write_all(b"p1 LOGIN probe-nobody probe\r\n")
        .map_err(|e| e.to_string())?;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("connection closed during probe".into());
        }
        if line.starts_with("p1 ") {
            let _ = (&stream).write_all(b"p2 LOGOUT\r\n");
            return Ok(());
        }
    }
}

/// A Maildir file name that sorts after every earlier one: Dovecot gives UIDs to files it
/// finds in one scan ordered by the `<secs>.M<usecs>` prefix, so it must strictly increase.
fn unique_name(size: usize) -> String {
    static LAST: Mutex<(u64, u32)> = Mutex::new((0, 0));
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let (secs, usecs) = {
        let mut last = LAST.lock().unwrap();
        let mut t = (now.as_secs(), now.subsec_micros());
        if t <= *last {
            t = if last.1 >= 999_999 {
                (last.0 + 1, 0)
            } else {
                (last.0, last.1 + 1)
            };
        }
        *last = t;
        t
    };
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!(
        "{secs}.M{usecs}P{}Q{seq}.tend-test,S={size}",
        std::process::id()
    )
}

/// (seconds, microseconds) from a Maildir name `<secs>.M<usecs>...`, for ordering.
fn time_key(path: &Path) -> (u64, u64, String) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = name.splitn(2, '.');
    let secs = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX);
    let usecs = parts
        .next()
        .and_then(|rest| rest.strip_prefix('M'))
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    (secs, usecs, name)
}

/// base file name -> UID, from Dovecot's `dovecot-uidlist` (v3: `UID [fields] :name`).
fn read_uidlist(path: &Path) -> std::collections::HashMap<String, u32> {
    let mut map = std::collections::HashMap::new();
    let mut text = String::new();
    let Ok(mut f) = fs::File::open(path) else {
        return map;
    };
    if f.read_to_string(&mut text).is_err() {
        return map;
    }
    for line in text.lines().skip(1) {
        let Some((head, name)) = line.split_once(':') else {
            continue;
        };
        let Some(uid) = head.split_whitespace().next().and_then(|u| u.parse().ok()) else {
            continue;
        };
        let base = name.split_once(":2,").map_or(name, |(b, _)| b);
        map.insert(base.to_string(), uid);
    }
    map
}

/// A self-signed leaf certificate for localhost / 127.0.0.1. CA:FALSE matters: rustls (webpki)
/// rejects a CA certificate used as the server's own certificate, yet accepts this one as a root.
pub(crate) fn make_cert(base: &Path) {
    let cnf = base.join("openssl.cnf");
    fs::write(
        &cnf,
        "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = ext\n\
         [dn]\nCN = localhost\n\
         [ext]\nbasicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = DNS:localhost, IP:127.0.0.1\n\
         subjectKeyIdentifier = hash\n",
    )
    .expect("write openssl.cnf");
    let out = Command::new("openssl")
        .args(["req", "-x509", "-new", "-nodes", "-days", "3650"])
        .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .arg("-config")
        .arg(&cnf)
        .arg("-keyout")
        .arg(base.join("key.pem"))
        .arg("-out")
        .arg(base.join("cert.pem"))
        .output()
        .expect("run openssl (is it installed?)");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Send a signal to exactly these processes: std has no kill(2), and `/bin/kill` (procps) is
/// missing from minimal images, so use the shell's builtin.
pub(crate) fn signal(name: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("sh")
        .arg("-c")
        .arg(r#"sig=$1; shift; kill -s "$sig" "$@""#)
        .arg("sh")
        .arg(name)
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// All processes below `pid`, from /proc/*/stat.
pub(crate) fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|pp| pp.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((p, ppid));
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(p, pp) in &parent_of {
            if pp == parent && !found.contains(&p) {
                found.push(p);
                frontier.push(p);
            }
        }
    }
    found
}

/// uid and gid of a system user, from /etc/passwd.
pub(crate) fn system_user(name: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {cmd}: {e}"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `dovecot` from PATH, else /usr/sbin (not in an ordinary user's PATH on Debian).
fn dovecot_binary() -> PathBuf {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("dovecot");
            if p.is_file() {
                return p;
            }
        }
    }
    PathBuf::from("/usr/sbin/dovecot")
}
